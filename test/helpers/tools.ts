import { execFileSync } from "node:child_process";
import { join } from "node:path";

/**
 * The reference tools (age, age-keygen, ssh-keygen), for the privileged and
 * system tiers only: the unit tier makes its keys and files in process
 * (test/helpers/in-process-keys.ts).
 */

/** Run a real tool and return stdout; throws with its stderr when it fails. */
export function run(tool: string, args: string[], input?: Uint8Array | string): Buffer {
  return execFileSync(tool, args, { input: input ?? "", stdio: ["pipe", "pipe", "pipe"], maxBuffer: 1 << 30 });
}

/** Generate a key with the real ssh-keygen; returns the private key path (".pub" beside it). */
export function sshKeygen(
  dir: string,
  name: string,
  type: "ed25519" | "rsa" | "ecdsa" | "dsa",
  options: { bits?: number; format?: "PEM" | "PKCS8"; passphrase?: string } = {},
): string {
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
