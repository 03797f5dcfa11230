// npm run bench: ageboot against its peers, side by side in one run,
// alternating, on tmpfs, in the two cases a host meets:
//   boot    nothing mounted and no current generation (every run starts from that);
//   switch  a current generation exists and a tenth of the secrets change.
// The peers: the agenix-style loop (one `age` process per secret, with
// agenix's mount, umask, chmod and mv steps: bench/baseline.mjs), and a
// compiled single-process installer on filippo.io/age (bench/go-installer,
// built here offline from Debian's Go packages; skipped, with a message, when
// Go or those packages are absent). Writes the tables and chart into
// docs/performance.md and docs/performance-scaling.svg.
//
//   --quick  the CI smoke test: small counts, few repetitions, docs left alone
//   --full   adds the exhaustive grid (10 to 1000 secrets of 64 B, 4 KiB and 1 MiB,
//            every peer) and the agenix-style loop at 10,000 secrets: about 30 minutes
//   --no-go  leaves the Go column out
//   --repetitions=N  rounds per set (default 5; 3 at 10,000 secrets and for the large secret)
//   --max-baseline=N  runs the agenix-style loop only on sets of at most N secrets
//            (it takes ~10 ms a secret on a quiet machine, far more on a loaded one)
// No timing is asserted anywhere: these are measurements, not tests.
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { baselineScript } from "./baseline.mjs";
import { renderChart, renderTables } from "./report.mjs";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
// What a host runs (the systemd unit, the NixOS module): the launcher, which runs the bundle with its V8 code cache.
const launcher = join(repoRoot, "dist", "ageboot");
// The same bundle with its code cache refused, as another Node.js would refuse it: V8 refuses a
// cache made with other flags, and a stack-trace limit is a flag that changes nothing else here.
// Shown beside it in the start-up figures.
const withoutCodeCache = [process.execPath, "--stack-trace-limit=11", join(repoRoot, "dist", "start.cjs")];
const quick = process.argv.includes("--quick");
const full = process.argv.includes("--full");

// Root and a private mount namespace: tmpfs mounts, and every ramfs the tools mount, stay invisible to the host.
if (process.getuid() !== 0) {
  console.error("bench: needs root (tmpfs and ramfs mounts); run it as root");
  process.exit(1);
}
if (!process.env.AGEBOOT_BENCH_INSIDE) {
  const result = spawnSync("unshare", ["--mount", "--propagation", "private", "--", process.execPath, ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, AGEBOOT_BENCH_INSIDE: "1" },
  });
  process.exit(result.status ?? 1);
}

const MiB = 1024 * 1024;
const option = (name) => process.argv.find((arg) => arg.startsWith(`--${name}=`))?.split("=")[1];
const plan = quick
  ? {
      repetitions: 2,
      boot: [
        [10, 64],
        [100, 64],
      ],
      switch: [[100, 64]],
      noBaselineAbove: 100,
      largeMiB: 16,
      mixed: 20,
      startupRounds: 5,
      scaling: [10, 100],
    }
  : {
      repetitions: 5,
      boot: full
        ? [
            [10, 64],
            [100, 64],
            [1000, 64],
            [10, 4096],
            [100, 4096],
            [1000, 4096],
            [10, MiB],
            [100, MiB],
            [1000, MiB],
            [10000, 64],
          ]
        : [
            [10, 64],
            [100, 64],
            [1000, 64],
            [1000, 4096],
            [100, MiB],
            [10000, 64],
          ],
      switch: [
        [10, 64],
        [1000, 64],
        [10000, 64],
      ],
      // The agenix-style loop takes about 10 ms a secret: 100 s a run at 10,000.
      noBaselineAbove: full ? 10000 : 1000,
      largeMiB: 256,
      mixed: 100,
      startupRounds: 21,
      scaling: [10, 100, 1000, 10000],
    };

if (option("repetitions")) plan.repetitions = Number(option("repetitions"));
if (option("max-baseline")) plan.noBaselineAbove = Number(option("max-baseline"));
const fewer = (count) => Math.min(plan.repetitions, count);

const work = mkdtempSync("/tmp/ageboot-bench-");
execFileSync("mount", ["-t", "tmpfs", "-o", "size=20g", "tmpfs", work]);
process.on("exit", () => {
  spawnSync("umount", ["-R", work]);
  rmSync(work, { recursive: true, force: true });
});

const sh = (command, options = {}) => execFileSync("bash", ["-c", command], { stdio: ["ignore", "pipe", "inherit"], ...options }).toString();
const log = (text) => process.stderr.write(`bench: ${text}\n`);
const sizeName = (size) => (size >= MiB ? `${size / MiB} MiB` : size >= 1024 ? `${size / 1024} KiB` : `${size} B`);

const goInstaller = process.argv.includes("--no-go") ? { skipped: "--no-go" } : buildGoInstaller();
if (goInstaller.skipped) log(`the Go column is skipped: ${goInstaller.skipped}`);

/**
 * bench/go-installer, built offline from Debian's packages in GOPATH mode
 * (GO111MODULE=off; the sources under /usr/share/gocode/src): no module proxy.
 */
function buildGoInstaller() {
  const gopath = "/usr/share/gocode";
  const install = "apt-get install golang-go golang-filippo-age-dev golang-filippo-edwards25519-dev golang-golang-x-crypto-dev";
  if (spawnSync("go", ["version"]).error) return { skipped: `no go on PATH (${install})` };
  if (!existsSync(join(gopath, "src/filippo.io/age/age.go"))) return { skipped: `filippo.io/age is not under ${gopath} (${install})` };
  const binary = join(work, "go-installer");
  const result = spawnSync("go", ["build", "-o", binary, "."], {
    cwd: join(repoRoot, "bench", "go-installer"),
    env: { ...process.env, GO111MODULE: "off", GOPATH: gopath, GOCACHE: join(work, "go-cache"), GOFLAGS: "", GOPROXY: "off", CGO_ENABLED: "0" },
    encoding: "utf8",
  });
  if (result.status !== 0) return { skipped: `go build failed: ${(result.stderr || String(result.error)).trim()}` };
  return {
    binary,
    version: execFileSync("go", ["version"], { encoding: "utf8" })
      .trim()
      .replace(/^go version /, ""),
  };
}

// Keys: the host's ed25519 and RSA keys, plus others that files are also encrypted to.
mkdirSync(join(work, "keys"));
const key = (name, type, bits) => {
  const path = join(work, "keys", name);
  sh(`ssh-keygen -q -t ${type} ${bits ? `-b ${bits}` : ""} -N '' -f ${path}`);
  return path;
};
const hostEd25519 = key("host_ed25519", "ed25519");
const hostRsa = key("host_rsa", "rsa", 4096);
const others = [key("other1", "ed25519"), key("other2", "rsa", 2048), key("other3", "ed25519")];
const edRecipient = `-R ${hostEd25519}.pub`;

/**
 * `count` files of `size` random bytes (one plaintext for the set). At most
 * DISTINCT_FILES are encrypted, with the real age, two at a time (two cores);
 * a larger set repeats them under other names, since an age process
 * takes 5 to 150 ms here and 10,000 of them took longer than the benchmark
 * itself. Every tool still opens, parses and decrypts every file: nothing
 * caches a file by its content. Smaller sets take the first files of larger ones.
 */
const DISTINCT_FILES = 500;
const pools = new Map();
function secrets(pool, count, size, recipientFlags = edRecipient, extra = "") {
  const name = `${pool}-${size}`;
  const dir = join(work, "sets", name);
  const made = pools.get(name) ?? 0;
  if (made < count) {
    mkdirSync(dir, { recursive: true });
    const seed = join(work, `plain-${name}`);
    sh(`[ -f ${seed} ] || head -c ${size} /dev/urandom > ${seed}`);
    const encrypted = Math.min(count, DISTINCT_FILES);
    if (made < encrypted) {
      sh(`seq ${made + 1} ${encrypted} | xargs -P 2 -n 50 sh -c 'for i; do age ${extra} ${recipientFlags} -o ${dir}/$i.age ${seed}; done' sh`);
    }
    for (let i = Math.max(made, encrypted) + 1; i <= count; i++) copyFileSync(join(dir, `${((i - 1) % encrypted) + 1}.age`), join(dir, `${i}.age`));
    pools.set(name, count);
  }
  return Array.from({ length: count }, (_, i) => ({ name: `secret-${i + 1}`, file: join(dir, `${i + 1}.age`) }));
}
// The largest set of each size first, so that the smaller ones are its first files.
for (const [count, size] of [...plan.boot, ...plan.switch].sort((a, b) => b[0] - a[0])) secrets("main", count, size);

/** One tool's copy of a host: its own secretsDir and mount point. */
function toolHost(root, tool, identities, secretList) {
  const secretsDir = join(root, tool, "secrets");
  const mountPoint = join(root, tool, "secrets.d");
  mkdirSync(join(root, tool), { recursive: true });
  const manifest = join(root, tool, `manifest-${secretList.variant}.json`);
  writeFileSync(
    manifest,
    JSON.stringify({
      version: 1,
      secretsDir,
      secretsMountPoint: mountPoint,
      identityPaths: identities,
      keepGenerations: 1,
      secrets: Object.fromEntries(secretList.files.map((secret) => [secret.name, { file: secret.file }])),
    }),
  );
  const script = join(root, tool, `baseline-${secretList.variant}.sh`);
  writeFileSync(script, baselineScript({ secretsDir, mountPoint, identities, secrets: secretList.files }));
  return { manifest, script, secretsDir, mountPoint };
}

/** The commands of each tool for a scenario, variant "a" (and "b" for the switch case). */
function scenario(name, identities, variants) {
  const root = join(work, "hosts", name.replace(/[^A-Za-z0-9]+/g, "-"));
  const tools = {};
  for (const tool of ["ageboot", "go", "baseline"]) {
    tools[tool] = variants.map((files, index) => toolHost(root, tool, identities, { variant: "ab"[index], files }));
  }
  const commands = {
    ageboot: tools.ageboot.map((host) => [launcher, "activate", "--manifest", host.manifest]),
    baseline: tools.baseline.map((host) => ["bash", host.script]),
  };
  if (!goInstaller.skipped) commands.go = tools.go.map((host) => [goInstaller.binary, host.manifest]);
  const hosts = Object.fromEntries(Object.entries(tools).map(([tool, list]) => [tool, list[0]]));
  return { name, count: variants[0].length, commands, hosts };
}

/** The boot case: nothing mounted at the mount point, no secretsDir link, as after a reboot. */
function resetToBoot(host) {
  while (mountedAt(host.mountPoint)) execFileSync("umount", [host.mountPoint]);
  rmSync(host.secretsDir, { force: true });
  rmSync(host.mountPoint, { recursive: true, force: true });
}
function mountedAt(path) {
  if (!existsSync(path)) return false;
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .some((line) => line.split(" ")[4] === path);
}

/**
 * Wall time of one command (from the clock around it: GNU time's own figure has
 * 10 ms steps, too coarse for a 100 ms start-up), and its CPU (user + system)
 * and peak RSS from GNU time, children included.
 */
function measure(command) {
  const out = join(work, "time.txt");
  const started = process.hrtime.bigint();
  const result = spawnSync("/usr/bin/time", ["-o", out, "-f", "%U %S %M", ...command], { stdio: ["ignore", "ignore", "pipe"] });
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0) throw new Error(`${command.join(" ")} failed: ${result.stderr}`);
  const [user, system, maxKb] = readFileSync(out, "utf8").trim().split(/\s+/).map(Number);
  return { wall, cpu: user + system, peakMiB: maxKb / 1024 };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
function summarize(samples) {
  return { wall: median(samples.map((s) => s.wall)), cpu: median(samples.map((s) => s.cpu)), peakMiB: Math.max(...samples.map((s) => s.peakMiB)) };
}

/**
 * Every tool of a scenario, in turn each round (the order rotating, so that
 * none always runs on a warmer machine), after one warm-up each. Boot: each
 * run starts from nothing mounted. Switch: the runs alternate between variants
 * a and b, each one a switch from the other with a tenth of the secrets changed.
 */
function compare(target, mode, repetitions = plan.repetitions) {
  const tools = Object.keys(target.commands).filter((tool) => tool !== "baseline" || target.count <= plan.noBaselineAbove);
  const samples = Object.fromEntries(tools.map((tool) => [tool, []]));
  const runs = Object.fromEntries(tools.map((tool) => [tool, 0]));
  const run = (tool) => {
    if (mode === "boot") resetToBoot(target.hosts[tool]);
    const variants = target.commands[tool];
    samples[tool].push(measure(variants[runs[tool]++ % variants.length]));
  };
  if (mode === "switch") for (const tool of tools) resetToBoot(target.hosts[tool]);
  for (const tool of tools) run(tool); // warm-up, not counted: file caches; for a switch, the first generation
  for (const tool of tools) samples[tool].length = 0;
  for (let round = 0; round < repetitions; round++) {
    for (let index = 0; index < tools.length; index++) run(tools[(index + round) % tools.length]);
  }
  const result = { name: target.name, count: target.count, mode, ...Object.fromEntries(tools.map((tool) => [tool, summarize(samples[tool])])) };
  log(`${mode} ${target.name}: ${tools.map((tool) => `${tool} ${result[tool].wall.toFixed(3)} s`).join(", ")}`);
  return result;
}

const results = { boot: [], switch: [], mixed: null, large: [], startup: null };
log(`age ${sh("age --version").trim()}${goInstaller.skipped ? "" : `, ${goInstaller.version}`}`);

for (const [count, size] of plan.boot) {
  const target = scenario(`${count} x ${sizeName(size)}`, [hostEd25519], [secrets("main", count, size)]);
  results.boot.push(compare(target, "boot", count >= 10000 ? fewer(3) : plan.repetitions));
}

// Switch: variant b has its first tenth encrypted from another plaintext.
for (const [count, size] of plan.switch) {
  const changed = Math.max(1, Math.floor(count / 10));
  const a = secrets("main", count, size);
  const b = [...secrets("changed", changed, size).map((secret, index) => ({ ...secret, name: a[index].name })), ...a.slice(changed)];
  const target = scenario(`${count} x ${sizeName(size)}, ${changed} changed`, [hostEd25519], [a, b]);
  results.switch.push(compare(target, "switch", count >= 10000 ? fewer(3) : plan.repetitions));
}

// Mixed: RSA and ed25519 host keys, every file to several recipients with the host's last.
{
  const half = Math.floor(plan.mixed / 2);
  const otherFlags = others.map((path) => `-R ${path}.pub`).join(" ");
  const toRsa = secrets("mixed-rsa", half, 4096, `${otherFlags} -R ${hostRsa}.pub`);
  const toEd = secrets("mixed-ed", plan.mixed - half, 4096, `${otherFlags} ${edRecipient}`).map((s) => ({ ...s, name: `${s.name}-ed` }));
  const target = scenario(`mixed: ${plan.mixed} x 4 KiB, RSA-4096 and ed25519 host keys, 4 recipients each`, [hostRsa, hostEd25519], [[...toRsa, ...toEd]]);
  results.mixed = compare(target, "boot");
}

// One large secret, binary and armored: throughput, and memory that must not grow with its size.
for (const armored of [false, true]) {
  const files = secrets(armored ? "large-armored" : "large", 1, plan.largeMiB * MiB, edRecipient, armored ? "-a" : "");
  const result = compare(scenario(`1 x ${plan.largeMiB} MiB${armored ? ", armored" : ""}`, [hostEd25519], [files]), "boot", fewer(3));
  result.mebibytes = plan.largeMiB;
  results.large.push(result);
}

// Start-up: 10 secrets, boot case, against node doing nothing, alternating,
// more rounds than the rest (start-up is short, so noise weighs more); and the
// same run without the code cache (what a package built by another Node.js runs).
{
  const target = scenario("start-up 10 x 64 B", [hostEd25519], [secrets("main", 10, 64)]);
  const commands = {
    node: [process.execPath, "-e", "0"],
    ageboot: target.commands.ageboot[0],
    bundle: [...withoutCodeCache, ...target.commands.ageboot[0].slice(1)],
    ...(target.commands.go ? { go: target.commands.go[0] } : {}),
  };
  const samples = Object.fromEntries(Object.keys(commands).map((tool) => [tool, []]));
  for (let round = 0; round < plan.startupRounds; round++) {
    for (const [tool, command] of Object.entries(commands)) {
      resetToBoot(target.hosts[tool === "bundle" ? "ageboot" : tool] ?? target.hosts.ageboot);
      samples[tool].push(measure(command));
    }
  }
  results.startup = Object.fromEntries(Object.entries(samples).map(([tool, list]) => [tool, summarize(list)]));
  const { node, ageboot, bundle: withoutCache } = results.startup;
  log(
    `start-up: node -e 0 ${node.wall.toFixed(3)} s; ageboot, 10 secrets, boot: ${ageboot.wall.toFixed(3)} s (${(ageboot.wall / node.wall).toFixed(2)}x), without the code cache ${withoutCache.wall.toFixed(3)} s (${(withoutCache.wall / node.wall).toFixed(2)}x)`,
  );
}

const machine = {
  cpu: `${cpus()[0]?.model ?? "unknown"}, ${cpus().length} cores`,
  memory: `${Math.round(totalmem() / 1024 ** 3)} GiB`,
  kernel: sh("uname -r").trim(),
  node: process.version,
  age: sh("age --version").trim(),
  go: goInstaller.skipped ? null : goInstaller.version,
  date: new Date().toISOString().slice(0, 10),
  load: sh("cut -d' ' -f1-3 /proc/loadavg").trim(),
};
const scaling = results.boot.filter((result) => result.name.endsWith(" x 64 B") && plan.scaling.includes(result.count));
const tables = renderTables(results, machine, { ...plan, full, command: process.argv.slice(2).join(" "), goSkipped: goInstaller.skipped ?? null });
process.stdout.write(`${tables}\n`);
if (!quick) {
  const docPath = join(repoRoot, "docs", "performance.md");
  const doc = readFileSync(docPath, "utf8");
  const begin = "<!-- bench:begin -->";
  const end = "<!-- bench:end -->";
  writeFileSync(docPath, `${doc.slice(0, doc.indexOf(begin) + begin.length)}\n${tables}\n${doc.slice(doc.indexOf(end))}`);
  writeFileSync(join(repoRoot, "docs", "performance-scaling.svg"), renderChart(scaling));
  log("wrote docs/performance.md and docs/performance-scaling.svg");
}
