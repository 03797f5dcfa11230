import { randomBytes } from "node:crypto";
import { encodeBase64NoPad } from "../../src/age/base64.js";

/**
 * Well-formed age headers with many recipient stanzas that no identity
 * opens: what an attacker who can hand a host a ciphertext file uses to make
 * decryption cost time (every stanza of a type we hold a key for costs key
 * agreement) and error messages cost space (the no-match message names every
 * recipient). Shares are random: random 32 bytes are a valid X25519 point
 * but for a handful of low-order values, and a random ML-KEM ciphertext
 * decapsulates (to a pseudo-random key) by the KEM's implicit rejection.
 */

/** A stanza body, in the header's 64-column base64. */
function body(bytes: Buffer): string {
  const text = encodeBase64NoPad(bytes);
  const lines = text.match(/.{1,64}/g) ?? [""];
  // A body that fills its last line needs an empty line after it.
  return `${lines.join("\n")}\n${text.length % 64 === 0 ? "\n" : ""}`;
}

export type HostileStanzaType = "X25519" | "ssh-ed25519" | "ssh-rsa" | "mlkem768x25519";

/** One stanza of `type`; `tag` is the SSH key tag (base64 of 4 bytes) for the ssh-* types. */
export function hostileStanza(type: HostileStanzaType, tag = "AAAAAA"): string {
  switch (type) {
    case "X25519":
      return `-> X25519 ${encodeBase64NoPad(randomBytes(32))}\n${body(randomBytes(32))}`;
    case "ssh-ed25519":
      return `-> ssh-ed25519 ${tag} ${encodeBase64NoPad(randomBytes(32))}\n${body(randomBytes(32))}`;
    case "ssh-rsa":
      return `-> ssh-rsa ${tag}\n${body(randomBytes(256))}`;
    case "mlkem768x25519":
      return `-> mlkem768x25519 ${encodeBase64NoPad(randomBytes(1120))}\n${body(randomBytes(32))}`;
  }
}

/** A binary age file: the version line, `stanzas`, a MAC line and a short payload. */
export function ageFileWithStanzas(stanzas: readonly string[]): Buffer {
  const header = `age-encryption.org/v1\n${stanzas.join("")}--- ${encodeBase64NoPad(randomBytes(32))}\n`;
  return Buffer.concat([Buffer.from(header, "latin1"), randomBytes(16 + 32)]);
}

/** `count` stanzas of `type`. */
export function hostileStanzas(type: HostileStanzaType, count: number, tag?: string): string[] {
  return Array.from({ length: count }, () => hostileStanza(type, tag));
}

/** As many stanzas of `type` as fit in `headerBytes` (what the old 1 MiB header limit let through). */
export function stanzasFilling(type: HostileStanzaType, headerBytes: number, tag?: string): string[] {
  const one = hostileStanza(type, tag).length;
  return hostileStanzas(type, Math.floor((headerBytes - 100) / one), tag);
}
