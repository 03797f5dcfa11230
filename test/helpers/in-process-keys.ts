import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import sshpk from "sshpk";

/**
 * Key files made in process, for the unit tier (no ssh-keygen there): sshpk
 * writes the OpenSSH format, node:crypto generates what sshpk cannot (RSA, DSA).
 * Private keys are written with mode 0600, as ssh-keygen writes them.
 */
export type InProcessKeyType = "ed25519" | "ecdsa" | "rsa" | "dsa";

function generate(type: InProcessKeyType): sshpk.PrivateKey {
  if (type === "ed25519") return sshpk.generatePrivateKey("ed25519");
  if (type === "ecdsa") return sshpk.generatePrivateKey("ecdsa");
  const pair = type === "rsa" ? generateKeyPairSync("rsa", { modulusLength: 2048 }) : generateKeyPairSync("dsa", { modulusLength: 1024, divisorLength: 160 });
  return sshpk.parsePrivateKey(pair.privateKey.export({ type: "pkcs8", format: "pem" }), "pem");
}

/** Write a new key as `dir/name` (OpenSSH private key format) and `dir/name.pub`; returns the private key path. */
export function writeSshKey(dir: string, name: string, type: InProcessKeyType, options: { passphrase?: string } = {}): string {
  const key = generate(type);
  key.comment = `test-${name}`;
  const path = join(dir, name);
  const writeOptions = options.passphrase === undefined ? {} : { passphrase: options.passphrase };
  writeFileSync(path, key.toString("openssh", writeOptions), { mode: 0o600 });
  writeFileSync(`${path}.pub`, `${key.toPublic().toString("ssh")}\n`);
  return path;
}
