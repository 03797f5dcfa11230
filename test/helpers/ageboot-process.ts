import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { assertNoCanary } from "./canary.js";
import { launcherPath, repoRoot, startPath, testBuildLauncherPath, testBuildStartPath } from "./paths.js";

/**
 * The only way tests run ageboot as a process. Everything it prints is checked
 * for the plaintext canary (test/helpers/canary.ts), stdout too unless the
 * command prints plaintext by design (`decrypt` to stdout). A unit test
 * (test/unit/test-hygiene.test.ts) fails any test file that starts the CLI
 * some other way.
 */
export interface AgebootRunOptions {
  input?: Uint8Array | string;
  /** Added to the test's environment, after JOURNAL_STREAM and NOTIFY_SOCKET are cleared. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** `decrypt` without -o prints the plaintext: stdout is then not checked. */
  plaintextOnStdout?: boolean;
  /**
   * "node" (default): node on dist/start.cjs (the bundle with its code cache),
   * without the launcher's shell in between, as the launcher runs it.
   * "launcher": dist/ageboot, as a user or systemd runs it. Any other string is
   * the path of a launcher (a copy of dist/ elsewhere). With a fault-injection
   * variable in `env` (AGEBOOT_TEST_KILL_AFTER_STEP, AGEBOOT_TEST_COUNT_STEPS), "node" and "launcher" run the test build
   * (dist-test/) instead: the shipped one has no such hooks (src/fault-injection.ts).
   */
  via?: "node" | "launcher" | string;
  /** Send stderr to this file instead of a pipe (then read back and checked). */
  stderrFile?: string;
  /** runAgeboot: kill it after this long (the result then has a signal). */
  timeoutMs?: number;
  /** startAgeboot: give it a stdin pipe the test holds open (a `decrypt -` that waits for input). */
  keepStdinOpen?: boolean;
  /** A shell command run before ageboot replaces the shell (exec): e.g. "ulimit -c unlimited", as an admin's shell may have set. */
  shellBefore?: string;
  /** Run ageboot as this user (setpriv, util-linux: no supplementary groups), after shellBefore ran as root. */
  asUser?: { readonly uid: number; readonly gid: number };
  /** Run shellBefore and ageboot in a mount namespace of their own (unshare --mount): shellBefore's mounts are theirs alone. */
  privateMountNamespace?: boolean;
}

/** The variables only the test build (dist-test/) acts on (src/fault-injection.ts). */
const FAULT_INJECTION_VARIABLES = ["AGEBOOT_TEST_KILL_AFTER_STEP", "AGEBOOT_TEST_COUNT_STEPS"] as const;

/**
 * The command that runs ageboot with `args`, as [file, arguments].
 */
function agebootCommand(args: readonly string[], via: AgebootRunOptions["via"] = "node", shellBefore?: string, options: AgebootRunOptions = {}): [string, string[]] {
  if (options.privateMountNamespace) {
    const [file, rest] = agebootCommand(args, via, shellBefore, { ...options, privateMountNamespace: false });
    return ["unshare", ["--mount", "--propagation", "private", "--", file, ...rest]];
  }
  if (shellBefore !== undefined) {
    const [file, rest] = agebootCommand(args, via, undefined, options);
    return ["sh", ["-c", `${shellBefore} && exec "$@"`, "sh", file, ...rest]];
  }
  if (options.asUser !== undefined) {
    const [file, rest] = agebootCommand(args, via, undefined, { env: options.env ?? {} });
    return ["setpriv", [`--reuid=${options.asUser.uid}`, `--regid=${options.asUser.gid}`, "--clear-groups", "--", file, ...rest]];
  }
  const testBuild = FAULT_INJECTION_VARIABLES.some((name) => options.env?.[name] !== undefined);
  if (via === "launcher") return [testBuild ? testBuildLauncherPath : launcherPath, [...args]];
  if (via !== "node") return [via, [...args]];
  return [process.execPath, [testBuild ? testBuildStartPath : startPath, ...args]];
}

function environment(options: AgebootRunOptions): NodeJS.ProcessEnv {
  return { ...process.env, JOURNAL_STREAM: "", NOTIFY_SOCKET: "", ...options.env };
}

function checkOutput(args: readonly string[], options: AgebootRunOptions, stdout: Buffer | string, stderr: Buffer | string): void {
  const what = `ageboot ${args.join(" ")}`.slice(0, 200);
  assertNoCanary(`stderr of ${what}`, stderr);
  if (!options.plaintextOnStdout) assertNoCanary(`stdout of ${what}`, stdout);
}

/** Run ageboot to completion; stdout and stderr as text. */
export function runAgeboot(args: readonly string[], options?: AgebootRunOptions): SpawnSyncReturns<string>;
/** Run ageboot to completion; stdout and stderr as bytes. */
export function runAgeboot(args: readonly string[], options: AgebootRunOptions & { binary: true }): SpawnSyncReturns<Buffer>;
export function runAgeboot(args: readonly string[], options: AgebootRunOptions & { binary?: boolean } = {}): SpawnSyncReturns<string> | SpawnSyncReturns<Buffer> {
  const stderrFd = options.stderrFile === undefined ? "pipe" : openSync(options.stderrFile, "a");
  let result: SpawnSyncReturns<Buffer>;
  try {
    result = spawnSync(...agebootCommand(args, options.via, options.shellBefore, options), {
      input: options.input ?? "",
      ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
      env: environment(options),
      cwd: options.cwd ?? repoRoot,
      maxBuffer: 1 << 30,
      stdio: ["pipe", "pipe", stderrFd],
    });
  } finally {
    if (typeof stderrFd === "number") closeSync(stderrFd);
  }
  const stderr = options.stderrFile === undefined ? (result.stderr ?? Buffer.alloc(0)) : readFileSync(options.stderrFile);
  checkOutput(args, options, result.stdout, stderr);
  if (options.binary) return result;
  return { ...result, stdout: result.stdout.toString("utf8"), stderr: result.stderr?.toString("utf8") ?? "", output: [] };
}

export interface AgebootExit {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Start ageboot without waiting: for concurrent runs and kills at random moments.
 * `exited` checks its output; `stderrSoFar` is what it has printed to stderr yet, checked too.
 */
export function startAgeboot(args: readonly string[], options: AgebootRunOptions = {}): { child: ChildProcess; exited: Promise<AgebootExit>; stderrSoFar: () => string } {
  const child = spawn(...agebootCommand(args, options.via, options.shellBefore, options), {
    env: environment(options),
    cwd: options.cwd ?? repoRoot,
    stdio: [options.keepStdinOpen ? "pipe" : "ignore", "pipe", "pipe"],
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout!.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr!.on("data", (chunk: Buffer) => stderr.push(chunk));
  const exited = new Promise<AgebootExit>((resolve, reject) => {
    child.on("error", reject);
    // "close", not "exit": both pipes are drained by then.
    child.on("close", (status, signal) => {
      const out = Buffer.concat(stdout);
      const err = Buffer.concat(stderr);
      try {
        checkOutput(args, options, out, err);
      } catch (error) {
        reject(error);
        return;
      }
      resolve({ status, signal, stdout: out.toString("utf8"), stderr: err.toString("utf8") });
    });
  });
  const stderrSoFar = () => {
    const text = Buffer.concat(stderr);
    assertNoCanary(`stderr of ageboot ${args.join(" ")}`.slice(0, 200), text);
    return text.toString("utf8");
  };
  return { child, exited, stderrSoFar };
}

/** A run of ageboot to completion, with its peak resident memory. */
export interface MeasuredRun {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The largest resident set ageboot reached, in KiB (getrusage of the child, as GNU time's %M). */
  readonly peakKiB: number;
}

/**
 * Run ageboot to completion under a small python3 parent that reports the
 * child's peak resident memory on descriptor 3 (ageboot's own stdout and
 * stderr pass through and are checked like any other run's): for the tests
 * that bound memory on hostile or large input.
 */
export function runAgebootMeasured(args: readonly string[], options: AgebootRunOptions = {}): MeasuredRun {
  const [file, rest] = agebootCommand(args, options.via, options.shellBefore, options);
  const parent = [
    "import os, resource, subprocess, sys",
    "status = subprocess.run(sys.argv[1:]).returncode",
    "os.write(3, f'{status} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}'.encode())",
  ].join("\n");
  const result = spawnSync("python3", ["-c", parent, file, ...rest], {
    input: options.input ?? "",
    env: environment(options),
    cwd: options.cwd ?? repoRoot,
    maxBuffer: 1 << 30,
    stdio: ["pipe", "pipe", "pipe", "pipe"],
  });
  checkOutput(args, options, result.stdout, result.stderr);
  const [status, peakKiB] = String(result.output[3] ?? "")
    .trim()
    .split(" ")
    .map(Number);
  if (status === undefined || peakKiB === undefined || Number.isNaN(peakKiB)) throw new Error(`could not measure ageboot ${args.join(" ")}: ${result.stderr}`);
  return { status, stdout: result.stdout.toString("utf8"), stderr: result.stderr.toString("utf8"), peakKiB };
}
