import { readFileSync } from "node:fs";
import sshpk from "sshpk";
import { AgebootError, describeCause } from "../errors.js";
import { sshTag } from "../identities/ssh-keys.js";
import { ageRecipientOfEd25519 } from "../identities/ssh-to-age.js";

/** A host's public key as it appears in age headers: the stanza type and the key tag. */
export interface HostPublicKey {
  readonly type: "ssh-ed25519" | "ssh-rsa";
  readonly tag: string;
  /** Where it was read from, for messages. */
  readonly path: string;
  /** The key in OpenSSH wire form, base64: what a sops `ssh-ed25519 AAAA...` / `ssh-rsa AAAA...` recipient holds. */
  readonly blob: string;
  /** ed25519: the age1... recipient ssh-to-age derives from it, which sops-nix hosts are encrypted to. */
  readonly ageRecipient?: string;
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
  const wire = key.toBuffer("rfc4253", {});
  const type = key.type === "ed25519" ? "ssh-ed25519" : "ssh-rsa";
  const blob = wire.toString("base64");
  if (key.type !== "ed25519") return { type, tag: sshTag(wire), path, blob };
  const point = (key.part as unknown as Record<string, { data: Buffer } | undefined>)["A"]?.data;
  if (point?.length !== 32) throw new AgebootError("USAGE", `--host-key ${path}: not an OpenSSH public key (ssh-ed25519 or ssh-rsa AAAA...)`);
  return { type, tag: sshTag(wire), path, blob, ageRecipient: ageRecipientOfEd25519(point) };
}
