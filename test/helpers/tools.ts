import { execFileSync, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { assertNoCanary } from "./canary.js";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
export const cliPath = join(repoRoot, "dist", "cli.js");
/** What ships: the launcher, and the start-up snapshot it starts node from (scripts/build.mjs). */
export const launcherPath = join(repoRoot, "dist", "ageboot");
export const snapshotPath = join(repoRoot, "dist", "ageboot.blob");

/**
 * The command that runs ageboot with `args`, as [file, arguments]: node started
 * from the start-up snapshot, the way dist/ageboot runs it on a host, but
 * without the launcher's shell in between (so that a test sees node's own exit
 * signal). AGEBOOT_TEST_ENTRY=bundle runs the whole suite against the plain
 * bundle (dist/cli.js), what the launcher falls back to.
 */
export function agebootCommand(args: readonly string[]): [string, string[]] {
  if (process.env["AGEBOOT_TEST_ENTRY"] === "bundle") return [process.execPath, [cliPath, ...args]];
  return [process.execPath, ["--snapshot-blob", snapshotPath, "--", ...args]];
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = "ageboot-test-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Run a real tool and return stdout; throws with its stderr when it fails. */
export function run(tool: string, args: string[], input?: Uint8Array | string): Buffer {
  return execFileSync(tool, args, { input: input ?? "", stdio: ["pipe", "pipe", "pipe"], maxBuffer: 1 << 30 });
}

/** Generate a key with the real ssh-keygen; returns the private key path (".pub" beside it). */
export function sshKeygen(dir: string, name: string, type: "ed25519" | "rsa" | "ecdsa" | "dsa", options: { bits?: number; format?: "PEM" | "PKCS8"; passphrase?: string } = {}): string {
  const path = join(dir, name);
  const args = ["-q", "-t", type, "-N", options.passphrase ?? "", "-C", `test-${name}`, "-f", path];
  if (options.bits) args.push("-b", String(options.bits));
  if (options.format) args.push("-m", options.format);
  run("ssh-keygen", args);
  return path;
}

/** Generate a native X25519 identity with the real age-keygen; returns [path, recipient]. */
export function ageKeygen(dir: string, name: string): [string, string] {
  const path = join(dir, name);
  run("age-keygen", ["-o", path]);
  return [path, run("age-keygen", ["-y", path]).toString().trim()];
}

/** Encrypt with the real age. Recipients: "-R file" for SSH public keys, "-r age1..." for native ones. */
export function ageEncrypt(plaintext: Uint8Array | string, recipients: Array<["-R" | "-r", string]>, armor = false): Buffer {
  const args = recipients.flat();
  if (armor) args.push("--armor");
  return run("age", ["--encrypt", ...args], plaintext);
}

/**
 * Run the built CLI. Its stderr is checked for the plaintext canary, and so is
 * stdout unless the command prints plaintext by design (`decrypt` to stdout).
 */
export function runCli(
  args: string[],
  options: { input?: Uint8Array | string; env?: NodeJS.ProcessEnv; cwd?: string; plaintextOnStdout?: boolean } = {},
): SpawnSyncReturns<Buffer> {
  const result = spawnSync(...agebootCommand(args), {
    input: options.input ?? "",
    env: { ...process.env, JOURNAL_STREAM: "", ...options.env },
    cwd: options.cwd ?? repoRoot,
    maxBuffer: 1 << 30,
  });
  assertNoCanary(`stderr of ageboot ${args.join(" ")}`, result.stderr);
  if (!options.plaintextOnStdout) assertNoCanary(`stdout of ageboot ${args.join(" ")}`, result.stdout);
  return result;
}
