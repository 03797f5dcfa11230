// npm run bench: ageboot against the agenix-style baseline (one `age` process
// per secret, with agenix's umask, chmod and mv steps), side by side in one run,
// alternating, on tmpfs. Writes the tables and chart into docs/performance.md
// and docs/performance-scaling.svg. `--quick` is the CI smoke test: small
// counts, few repetitions, figures printed but docs left alone.
// No timing is asserted anywhere: these are measurements, not tests.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { baselineScript } from "./baseline.mjs";
import { renderChart, renderTables } from "./report.mjs";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
// What a host runs (the systemd unit, the NixOS module): the launcher, which starts node from the start-up snapshot.
const launcher = join(repoRoot, "dist", "ageboot");
// What the launcher falls back to without a usable snapshot: shown beside it in the start-up figures.
const bundle = join(repoRoot, "dist", "cli.js");
const quick = process.argv.includes("--quick");

// Root and a private mount namespace: tmpfs mounts, and ageboot's own ramfs, stay invisible to the host.
if (process.getuid() !== 0) {
  console.error("bench: needs root (tmpfs mounts); run it as root");
  process.exit(1);
}
if (!process.env.AGEBOOT_BENCH_INSIDE) {
  const result = spawnSync("unshare", ["--mount", "--propagation", "private", "--", process.execPath, ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, AGEBOOT_BENCH_INSIDE: "1" },
  });
  process.exit(result.status ?? 1);
}

const plan = quick
  ? { repetitions: 2, grid: { counts: [10, 100], sizes: [64] }, scaling: [10, 100], baselineScaling: [10, 100], largeMiB: 16, mixed: 20 }
  : {
      repetitions: 5,
      grid: { counts: [10, 100, 1000], sizes: [64, 4096, 1024 * 1024] },
      scaling: [10, 100, 1000, 10000],
      baselineScaling: [10, 100, 1000],
      largeMiB: 256,
      mixed: 100,
    };

const work = mkdtempSync("/tmp/ageboot-bench-");
execFileSync("mount", ["-t", "tmpfs", "-o", "size=20g", "tmpfs", work]);
process.on("exit", () => {
  spawnSync("umount", ["-R", work]);
  rmSync(work, { recursive: true, force: true });
});

const sh = (command, options = {}) => execFileSync("bash", ["-c", command], { stdio: ["ignore", "pipe", "inherit"], ...options }).toString();
const log = (text) => process.stderr.write(`bench: ${text}\n`);

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

/** Encrypt `count` secrets of `size` random bytes with the real age, two at a time (two cores). */
function makeSecrets(name, count, size, recipientFlags) {
  const dir = join(work, "sets", name);
  mkdirSync(dir, { recursive: true });
  const seed = join(work, `plain-${size}`);
  sh(`[ -f ${seed} ] || head -c ${size} /dev/urandom > ${seed}`);
  sh(`seq 1 ${count} | xargs -P 2 -I{} age ${recipientFlags} -o ${dir}/{}.age ${seed}`);
  return Array.from({ length: count }, (_, i) => ({ name: `secret-${i + 1}`, file: join(dir, `${i + 1}.age`) }));
}

/** A scenario: its secrets, a manifest for ageboot and a script for the baseline, on separate tmpfs trees. */
function scenario(name, secrets, identities) {
  const root = join(work, "hosts", name);
  mkdirSync(root, { recursive: true });
  const manifest = join(root, "manifest.json");
  writeFileSync(
    manifest,
    JSON.stringify({
      version: 1,
      secretsDir: join(root, "ageboot/agenix"),
      secretsMountPoint: join(root, "ageboot/agenix.d"),
      identityPaths: identities,
      keepGenerations: 1,
      secrets: Object.fromEntries(secrets.map((secret) => [secret.name, { file: secret.file }])),
    }),
  );
  const script = join(root, "baseline.sh");
  writeFileSync(script, baselineScript({ secretsDir: join(root, "baseline/agenix"), mountPoint: join(root, "baseline/agenix.d"), identities, secrets }));
  return { name, count: secrets.length, manifest, script };
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

/** Run ageboot and the baseline alternately, swapping who goes first each round. */
function compare(target, repetitions = plan.repetitions) {
  const ageboot = [];
  const baseline = [];
  const runAgeboot = () => ageboot.push(measure([launcher, "activate", "--manifest", target.manifest]));
  const runBaseline = () => baseline.push(measure(["bash", target.script]));
  runAgeboot(); // one warm-up each, not counted: file caches, first mount
  runBaseline();
  ageboot.length = 0;
  baseline.length = 0;
  for (let round = 0; round < repetitions; round++) {
    // Alternating which goes first, so that neither always runs on a warmer machine.
    const order = round % 2 === 0 ? [runAgeboot, runBaseline] : [runBaseline, runAgeboot];
    for (const run of order) run();
  }
  const result = { name: target.name, count: target.count, ageboot: summarize(ageboot), baseline: summarize(baseline) };
  log(
    `${target.name}: ageboot ${result.ageboot.wall.toFixed(3)} s, baseline ${result.baseline.wall.toFixed(3)} s, ratio ${(result.baseline.wall / result.ageboot.wall).toFixed(1)}x`,
  );
  return result;
}

const edRecipient = `-R ${hostEd25519}.pub`;
const results = { grid: [], mixed: null, large: null, scaling: [], startup: null };

log(`generating secrets with age ${sh("age --version").trim()} ...`);
for (const size of plan.grid.sizes) {
  for (const count of plan.grid.counts) {
    const name = `${count} x ${size >= 1024 * 1024 ? `${size / 1024 / 1024} MiB` : size >= 1024 ? `${size / 1024} KiB` : `${size} B`}`;
    results.grid.push(compare(scenario(name, makeSecrets(name.replace(/ /g, ""), count, size, edRecipient), [hostEd25519])));
  }
}

// Mixed: RSA and ed25519 host keys, every file to several recipients with the host's last.
{
  const half = Math.floor(plan.mixed / 2);
  const otherFlags = others.map((path) => `-R ${path}.pub`).join(" ");
  const toRsa = makeSecrets("mixed-rsa", half, 4096, `${otherFlags} -R ${hostRsa}.pub`);
  const toEd = makeSecrets("mixed-ed", plan.mixed - half, 4096, `${otherFlags} ${edRecipient}`).map((s) => ({ ...s, name: `${s.name}-ed` }));
  results.mixed = compare(scenario(`mixed: ${plan.mixed} x 4 KiB, RSA-4096 and ed25519 host keys, 4 recipients each`, [...toRsa, ...toEd], [hostRsa, hostEd25519]));
}

// One large secret: memory must not grow with its size.
results.large = compare(scenario(`1 x ${plan.largeMiB} MiB`, makeSecrets("large", 1, plan.largeMiB * 1024 * 1024, edRecipient), [hostEd25519]), Math.min(plan.repetitions, 3));
results.large.throughputMiBs = { ageboot: plan.largeMiB / results.large.ageboot.wall, baseline: plan.largeMiB / results.large.baseline.wall };

// Scaling: time per secret from 10 to 10,000 secrets of 64 B.
for (const count of plan.scaling) {
  const target = scenario(`scaling ${count}`, makeSecrets(`scaling-${count}`, count, 64, edRecipient), [hostEd25519]);
  if (plan.baselineScaling.includes(count)) results.scaling.push(compare(target, 3));
  else {
    const samples = Array.from({ length: 3 }, () => measure([launcher, "activate", "--manifest", target.manifest]));
    results.scaling.push({ name: target.name, count, ageboot: summarize(samples), baseline: null });
    log(`${target.name}: ageboot ${results.scaling.at(-1).ageboot.wall.toFixed(3)} s (baseline not run at this size)`);
  }
}

// Start-up: 10 secrets against node doing nothing, alternating, more rounds
// than the grid (start-up is short, so noise weighs more).
{
  const ten = scenario("start-up 10 x 64 B", makeSecrets("startup-10", 10, 64, edRecipient), [hostEd25519]);
  const nodeSamples = [];
  const tenSamples = [];
  // The same run without the snapshot, to show what the snapshot buys.
  const bundleSamples = [];
  for (let round = 0; round < (quick ? 5 : 21); round++) {
    nodeSamples.push(measure([process.execPath, "-e", "0"]));
    tenSamples.push(measure([launcher, "activate", "--manifest", ten.manifest]));
    bundleSamples.push(measure([process.execPath, bundle, "activate", "--manifest", ten.manifest]));
  }
  const nodeAlone = summarize(nodeSamples);
  const tenSecrets = summarize(tenSamples);
  const withoutSnapshot = summarize(bundleSamples);
  results.startup = { nodeAlone, tenSecrets, withoutSnapshot, ratio: tenSecrets.wall / nodeAlone.wall };
  log(
    `start-up: node -e 0 ${nodeAlone.wall.toFixed(3)} s; ageboot with 10 secrets ${tenSecrets.wall.toFixed(3)} s (${results.startup.ratio.toFixed(2)}x); without the snapshot ${withoutSnapshot.wall.toFixed(3)} s`,
  );
}

const machine = {
  cpu: `${cpus()[0]?.model ?? "unknown"}, ${cpus().length} cores`,
  memory: `${Math.round(totalmem() / 1024 ** 3)} GiB`,
  kernel: sh("uname -r").trim(),
  node: process.version,
  age: sh("age --version").trim(),
  date: new Date().toISOString().slice(0, 10),
};
const tables = renderTables(results, machine, plan);
process.stdout.write(`${tables}\n`);
if (!quick) {
  const docPath = join(repoRoot, "docs", "performance.md");
  const doc = readFileSync(docPath, "utf8");
  const begin = "<!-- bench:begin -->";
  const end = "<!-- bench:end -->";
  writeFileSync(docPath, `${doc.slice(0, doc.indexOf(begin) + begin.length)}\n${tables}\n${doc.slice(doc.indexOf(end))}`);
  writeFileSync(join(repoRoot, "docs", "performance-scaling.svg"), renderChart(results.scaling));
  log("wrote docs/performance.md and docs/performance-scaling.svg");
}
