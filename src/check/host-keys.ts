import { readFileSync } from "node:fs";
import sshpk from "sshpk";
import { AgebootError, describeCause } from "../errors.js";
import { sshTag } from "../identities/ssh-keys.js";

/** A host's public key as it appears in age headers: the stanza type and the key tag. */
export interface HostPublicKey {
  readonly type: "ssh-ed25519" | "ssh-rsa";
  readonly tag: string;
  /** Where it was read from, for messages. */
  readonly path: string;
}

/** Public key files are one line; a larger file is not one. */
const MAX_PUBLIC_KEY_BYTES = 64 * 1024;

/**
 * Read an OpenSSH public key file (`ssh_host_ed25519_key.pub`): the stanza tag
 * an age file encrypted to it carries. Only ed25519 and RSA keys can be age
 * recipients; anything else is a usage error naming the file.
 */
export function readHostPublicKey(path: string): HostPublicKey {
  let text: string;
  try {
    const bytes = readFileSync(path);
    if (bytes.length > MAX_PUBLIC_KEY_BYTES) throw new Error(`larger than ${MAX_PUBLIC_KEY_BYTES} bytes`);
    text = bytes.toString("utf8").trim();
  } catch (error) {
    throw new AgebootError("USAGE", `--host-key ${path}: cannot read (${describeCause(error)})`);
  }
  let key: sshpk.Key;
  try {
    key = sshpk.parseKey(text, "ssh", { filename: path });
  } catch {
    throw new AgebootError("USAGE", `--host-key ${path}: not an OpenSSH public key (ssh-ed25519 or ssh-rsa AAAA...)`);
  }
  if (key.type !== "ed25519" && key.type !== "rsa") throw new AgebootError("USAGE", `--host-key ${path}: ${key.type} keys cannot be age recipients (only ed25519 and rsa)`);
  return { type: key.type === "ed25519" ? "ssh-ed25519" : "ssh-rsa", tag: sshTag(key.toBuffer("rfc4253", {})), path };
}
