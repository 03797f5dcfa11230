import { execFileSync } from "node:child_process";
import { readFileSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateX25519Identity } from "age-encryption";
import { writePassphraseProtectedKey, writeSshKey } from "./in-process-keys.js";

/**
 * The hostile identity file corpus (docs/reliability.md), made in process: none
 * of them may yield an identity, so as the only identity path each ends a run
 * with NO_IDENTITY (exit 3) before anything is touched. Each case: its name,
 * how to make it in a directory (returns its path), and what the warning
 * about it must say.
 */
export type HostileIdentityFile = [name: string, make: (dir: string) => string | Promise<string>, warning: string];

function privateFile(dir: string, name: string, contents: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, contents, { mode: 0o600 });
  return path;
}

export const hostileIdentityFiles: readonly HostileIdentityFile[] = [
  [
    "a truncated OpenSSH key",
    (dir) => {
      const text = readFileSync(writeSshKey(dir, "truncated", "ed25519"), "utf8");
      return privateFile(dir, "truncated-cut", text.slice(0, text.length / 2));
    },
    "not a valid OpenSSH, PEM or PKCS#8 private key",
  ],
  ["a DSA key", (dir) => writeSshKey(dir, "dsa", "dsa"), "dsa keys cannot decrypt age files"],
  ["an ECDSA key", (dir) => writeSshKey(dir, "ecdsa", "ecdsa"), "ecdsa keys cannot decrypt age files"],
  ["a passphrase-protected key", (dir) => writePassphraseProtectedKey(dir, "encrypted"), "passphrase-protected"],
  ["a directory", (dir) => dir, "not a regular file, skipped"],
  [
    "a FIFO",
    (dir) => {
      const path = join(dir, "fifo");
      // coreutils, not one of the reference tools: Node has no mkfifo of its own.
      execFileSync("mkfifo", [path]);
      return path;
    },
    "not a regular file, skipped",
  ],
  [
    "a huge file",
    (dir) => {
      const path = privateFile(dir, "huge", "");
      truncateSync(path, 50 * 1024 * 1024);
      return path;
    },
    "too large for a key file",
  ],
  ["an empty file", (dir) => privateFile(dir, "empty", ""), "identity file is empty, skipped"],
  [
    "a PEM block of garbage",
    (dir) => privateFile(dir, "garbage", `-----BEGIN OPENSSH PRIVATE KEY-----\n${Buffer.alloc(300, 7).toString("base64")}\n-----END OPENSSH PRIVATE KEY-----\n`),
    "not a valid OpenSSH, PEM or PKCS#8 private key",
  ],
  ["an SSH public key", (dir) => `${writeSshKey(dir, "public-only", "ed25519")}.pub`, "an SSH public key; the private key is needed"],
  [
    "an age key with a bad checksum",
    async (dir) => {
      const identity = await generateX25519Identity();
      return privateFile(dir, "bad-age", `${identity.slice(0, -1)}${identity.endsWith("Q") ? "P" : "Q"}\n`);
    },
    "line 1: not a valid age identity, skipped",
  ],
  [
    "a symlink loop",
    (dir) => {
      const path = join(dir, "loop");
      symlinkSync(path, path);
      return path;
    },
    "cannot read identity file",
  ],
];

/** Every case made in `dir`, in corpus order: their paths. */
export async function makeHostileIdentityFiles(dir: string): Promise<string[]> {
  const paths: string[] = [];
  for (const [, make] of hostileIdentityFiles) paths.push(await make(dir));
  return paths;
}
