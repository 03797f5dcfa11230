// Issue 12, item 5: a crash must not write plaintext or the host key to disk.
// The launcher (dist/ageboot, what systemd and the NixOS snippets start) turns
// core dumps off before it execs node, for every command. Here each run starts from a shell with
// `ulimit -c unlimited`, node is killed with SIGSEGV while it holds the host
// key in memory (waiting for the lock, or for its input), and no core appears.
//
// /proc/sys/kernel/core_pattern is global to the host and is only read here:
// when it is a plain file name the core would land in the crashing process's
// working directory, and the test looks there (a control run without the
// launcher shows that a core does appear then); when it pipes to a handler
// (systemd-coredump, apport) the test checks what the kernel passes it: the
// process's core limit and coredump_filter, both of which must be 0.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { lockFilePath } from "../../src/manifest/forbidden-paths.js";
import { assertNoCanary } from "../helpers/canary.js";
import type { TestHost } from "../helpers/host.js";
import { requirePrivateNamespace } from "../helpers/private-namespace.js";
import { startAgeboot } from "../helpers/ageboot-process.js";
import { hostPerTest } from "../helpers/host-lifecycle.js";
import { repoRoot } from "../helpers/paths.js";
import { tempDir } from "../helpers/temp-dir.js";

beforeAll(requirePrivateNamespace);

const corePattern = readFileSync("/proc/sys/kernel/core_pattern", "utf8").trim();
/** A core file is written into the crashing process's working directory under this pattern. */
const coreLandsInWorkingDirectory = !corePattern.startsWith("|") && !corePattern.startsWith("/");

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

const newHost = hostPerTest();

/** A directory the crashing process runs in, where a core named by a plain core_pattern would land. */
function workingDirectory(): string {
  const { dir, cleanup } = tempDir("ageboot-core-");
  cleanups.push(cleanup);
  return dir;
}

/** Start `command` from a shell that allows core dumps of any size, the way a careless admin shell would. */
function startWithCoreDumps(args: readonly string[], via: "node" | "launcher", cwd: string): ChildProcess & { stderrText: () => string } {
  // stdin stays open: `decrypt -` then waits for its input with the key loaded.
  const { child, stderrSoFar } = startAgeboot(args, { via, cwd, keepStdinOpen: true, shellBefore: "ulimit -c unlimited", env: { AGEBOOT_LOG_LEVEL: "debug" } });
  cleanups.push(() => child.kill("SIGKILL"));
  return Object.assign(child, { stderrText: stderrSoFar });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor<T>(what: string, probe: () => T | null, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== null) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** The node process running ageboot in the tree started at `root`: its child, or the launcher itself once it has exec'd node. */
function nodeOf(root: number): number | null {
  for (const pid of [root, ...childrenOf(root)]) {
    try {
      if (readlinkSync(`/proc/${pid}/exe`) === process.execPath) return pid;
    } catch {
      // gone meanwhile
    }
  }
  return null;
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** What the kernel would use for a core dump of `pid`: its core size limits and which mappings it would write. */
function dumpSettingsOf(pid: number): { soft: string; hard: string; filter: number } {
  const line = readFileSync(`/proc/${pid}/limits`, "utf8")
    .split("\n")
    .find((text) => text.startsWith("Max core file size"))!;
  const [soft, hard] = line.replace("Max core file size", "").trim().split(/\s+/);
  return { soft: soft!, hard: hard!, filter: Number.parseInt(readFileSync(`/proc/${pid}/coredump_filter`, "utf8").trim(), 16) };
}

function coresIn(dir: string): string[] {
  return readdirSync(dir).filter((name) => name === corePattern || name.startsWith(`${corePattern}.`));
}

/**
 * Hold the run's lock from outside, so that ageboot waits in step 3 with the
 * host key loaded. Resolves once flock holds it: started and not waited for,
 * ageboot could take the lock first (it did, in a clean clone under load).
 */
async function holdLock(host: TestHost): Promise<ChildProcess> {
  const lockPath = lockFilePath(host.mountPoint);
  // The lock's directory is made by the first run; before it, flock could not even open the file.
  mkdirSync(dirname(lockPath), { recursive: true });
  const holder = spawn("flock", ["--exclusive", lockPath, "sh", "-c", "echo held; exec sleep 600"], { stdio: ["ignore", "pipe", "ignore"] });
  cleanups.push(() => holder.kill("SIGKILL"));
  let said = "";
  holder.stdout!.on("data", (chunk: Buffer) => (said += chunk.toString()));
  await waitFor("flock to hold the lock", () => (said.includes("held") ? true : null));
  return holder;
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

/** Node, started by `launcher` under `ulimit -c unlimited` (which execs it), waiting with the host key loaded: SIGSEGV it. */
async function crash(launcher: ChildProcess & { stderrText: () => string }, ready: string) {
  const node = await waitFor("node waiting", () => (launcher.stderrText().includes(ready) ? nodeOf(launcher.pid!) : null));
  const settings = dumpSettingsOf(node);
  process.kill(node, "SIGSEGV");
  return { settings, exit: await exited(launcher) };
}

describe("no core dumps (issue 12, item 5)", () => {
  it("the systemd unit and the NixOS modules set LimitCORE=0", () => {
    expect(readFileSync(join(repoRoot, "systemd/ageboot.service"), "utf8")).toMatch(/^LimitCORE=0$/m);
    // The units of both NixOS modules (age.* and sops.*) are defined here.
    expect(readFileSync(join(repoRoot, "nix/lib/nixos-backend.nix"), "utf8")).toMatch(/^\s*LimitCORE = 0;$/m);
    expect(readFileSync(join(repoRoot, "nix/lib/activation.nix"), "utf8")).toContain("ulimit -c 0 &&");
  });

  it.runIf(coreLandsInWorkingDirectory)("control: node started without the launcher does leave a core here (so the checks below can fail)", async () => {
    const host = newHost();
    host.writeManifest({ a: { file: host.encrypt("a") } });
    await holdLock(host);
    const cwd = workingDirectory();
    const node = startWithCoreDumps(["activate", "--manifest", host.manifestPath], "node", cwd);
    await waitFor("node waiting for the lock", () => (node.stderrText().includes("2. identities done") ? true : null));
    expect(dumpSettingsOf(node.pid!).soft).toBe("unlimited");
    process.kill(node.pid!, "SIGSEGV");
    expect((await exited(node)).signal).toBe("SIGSEGV");
    await waitFor("the core file", () => (coresIn(cwd).length > 0 ? true : null));
    console.log(`control: a core of ${statSync(join(cwd, coresIn(cwd)[0]!)).size} bytes`);
    for (const core of coresIn(cwd)) rmSync(join(cwd, core), { force: true });
  });

  it("activate: SIGSEGV while holding the host key: no core", async () => {
    const host = newHost();
    host.writeManifest({ a: { file: host.encrypt("a") }, b: { file: host.encrypt("b") } });
    const holder = await holdLock(host);
    const cwd = workingDirectory();
    const launcher = startWithCoreDumps(["activate", "--manifest", host.manifestPath], "launcher", cwd);
    const { settings, exit } = await crash(launcher, "2. identities done");
    holder.kill("SIGKILL");
    assertNoCanary("launcher stderr", launcher.stderrText());
    expect(exit.signal).toBe("SIGSEGV");
    if (coreLandsInWorkingDirectory) expect(coresIn(cwd)).toEqual([]);
    expect(settings).toEqual({ soft: "0", hard: "0", filter: 0 });
    expect(existsSync(host.secretsDir)).toBe(false);
  });

  it("decrypt: SIGSEGV while waiting for its input with the key loaded: no core", async () => {
    const host = newHost();
    const cwd = workingDirectory();
    const launcher = startWithCoreDumps(["decrypt", "-i", host.key, "-"], "launcher", cwd);
    const { settings, exit } = await crash(launcher, "identity loaded:");
    expect(exit.signal).toBe("SIGSEGV");
    if (coreLandsInWorkingDirectory) expect(coresIn(cwd)).toEqual([]);
    expect(settings).toEqual({ soft: "0", hard: "0", filter: 0 });
  });
});
