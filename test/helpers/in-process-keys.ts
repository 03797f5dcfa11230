import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import sshpk from "sshpk";

/**
 * Key files made in process, for the unit tier (no ssh-keygen there): sshpk
 * writes the OpenSSH format, node:crypto generates the keys sshpk would make
 * slowly in JavaScript (Ed25519) or cannot make (RSA, DSA).
 * Private keys are written with mode 0600, as ssh-keygen writes them.
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
 * The files' text already made in this worker, by type, name and passphrase: a
 * case made twice (alone, then in the whole corpus) gets the same key again
 * instead of a new one. Generating DSA parameters and a passphrase's 16 bcrypt
 * rounds cost a tenth of a second or more each; no test needs two different
 * keys under one name.
 */
const made = new Map<string, { privateKey: string; publicKey: string }>();

/** Write a key as `dir/name` (OpenSSH private key format) and `dir/name.pub`; returns the private key path. */
export function writeSshKey(dir: string, name: string, type: InProcessKeyType, options: { passphrase?: string } = {}): string {
  const cacheKey = JSON.stringify([type, name, options.passphrase ?? null]);
  let texts = made.get(cacheKey);
  if (texts === undefined) {
    const key = generate(type);
    key.comment = `test-${name}`;
    const writeOptions = options.passphrase === undefined ? {} : { passphrase: options.passphrase };
    texts = { privateKey: key.toString("openssh", writeOptions), publicKey: `${key.toPublic().toString("ssh")}\n` };
    made.set(cacheKey, texts);
  }
  const path = join(dir, name);
  writeFileSync(path, texts.privateKey, { mode: 0o600 });
  writeFileSync(`${path}.pub`, texts.publicKey);
  return path;
}
