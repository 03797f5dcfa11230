import { generateKeyPairSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import sshpk from "sshpk";
import { repoRoot } from "./paths.js";

/**
 * Key files made in process, for the unit tier (no ssh-keygen there): sshpk
 * writes the OpenSSH format, node:crypto generates the keys sshpk would make
 * slowly in JavaScript (Ed25519) or cannot make (RSA, DSA); the one
 * passphrase-protected key is a fixture. Private keys are written with mode
 * 0600, as ssh-keygen writes them.
 */
export type InProcessKeyType = "ed25519" | "ecdsa" | "rsa" | "dsa";

function generate(type: InProcessKeyType): sshpk.PrivateKey {
  if (type === "ecdsa") return sshpk.generatePrivateKey("ecdsa");
  const pair =
    type === "ed25519"
      ? generateKeyPairSync("ed25519")
      : type === "rsa"
        ? generateKeyPairSync("rsa", { modulusLength: 2048 })
        : generateKeyPairSync("dsa", { modulusLength: 1024, divisorLength: 160 });
  return sshpk.parsePrivateKey(pair.privateKey.export({ type: "pkcs8", format: "pem" }), "pem");
}

/**
 * The files' text already made in this worker, by type and name: a case made
 * twice (alone, then in the whole corpus) gets the same key again instead of a
 * new one. Generating DSA parameters costs a tenth of a second or more; no test
 * needs two different keys under one name.
 */
const made = new Map<string, { privateKey: string; publicKey: string }>();

/** Write a key as `dir/name` (OpenSSH private key format) and `dir/name.pub`; returns the private key path. */
export function writeSshKey(dir: string, name: string, type: InProcessKeyType): string {
  const cacheKey = `${type} ${name}`;
  let texts = made.get(cacheKey);
  if (texts === undefined) {
    const key = generate(type);
    key.comment = `test-${name}`;
    texts = { privateKey: key.toString("openssh"), publicKey: `${key.toPublic().toString("ssh")}\n` };
    made.set(cacheKey, texts);
  }
  return writeKeyFiles(dir, name, texts);
}

/**
 * Write the passphrase-protected Ed25519 key of test/fixtures/keys as `dir/name`
 * and `dir/name.pub`; returns the private key path. Made once by ssh-keygen
 * (`ssh-keygen -t ed25519 -N "secret phrase"`), public on purpose: sshpk's 16
 * bcrypt rounds, in JavaScript, took 0.2 s or more each time a test made one.
 */
export function writePassphraseProtectedKey(dir: string, name: string): string {
  const fixture = join(repoRoot, "test/fixtures/keys/TEST-ONLY-passphrase-protected_ed25519");
  return writeKeyFiles(dir, name, { privateKey: readFileSync(fixture, "utf8"), publicKey: readFileSync(`${fixture}.pub`, "utf8") });
}

function writeKeyFiles(dir: string, name: string, texts: { privateKey: string; publicKey: string }): string {
  const path = join(dir, name);
  writeFileSync(path, texts.privateKey, { mode: 0o600 });
  writeFileSync(`${path}.pub`, texts.publicKey);
  return path;
}
