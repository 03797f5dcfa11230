import { bech32 } from "@scure/base";
import type { KeyObject } from "node:crypto";
import { rawPublicKey, x25519PrivateKey } from "../age/x25519.js";
import { loadedIdentity, type LoadedIdentity } from "./types.js";

const X25519_LABEL = "age-encryption.org/v1/X25519";

/** One line of an age identity file that could not be used. */
export interface IdentityLineProblem {
  readonly line: number;
  readonly reason: string;
}

/**
 * Parse a native age identity file (what age-keygen writes): one identity per
 * line, `#` comments and blank lines ignored. X25519 keys use the same native
 * X25519 code as keys derived from SSH keys; post-quantum hybrid keys
 * (AGE-SECRET-KEY-PQ-1...) are handed to age-encryption as strings. A bad line
 * is reported by number and skipped; the key text itself is never echoed.
 */
export async function identitiesFromAgeFile(text: string, path: string): Promise<{ identities: LoadedIdentity[]; problems: IdentityLineProblem[] }> {
  const identities: LoadedIdentity[] = [];
  const problems: IdentityLineProblem[] = [];
  const lines = text.split(/\r?\n/);
  for (const [index, rawLine] of lines.entries()) {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#")) continue;
    const lineNumber = index + 1;
    try {
      identities.push(await parseAgeIdentityLine(line, path));
    } catch (error) {
      problems.push({ line: lineNumber, reason: error instanceof UnsupportedLine ? error.message : "not a valid age identity" });
    }
  }
  return { identities, problems };
}

class UnsupportedLine extends Error {}

/**
 * A native X25519 identity for a private key object: from an age identity file,
 * or derived from an ed25519 host key (`note` says so). Its fingerprint is the
 * age1... recipient users encrypt to.
 */
export function x25519Identity(ourPrivateKey: KeyObject, path: string, note?: string): LoadedIdentity {
  const ourPublicKey = rawPublicKey(ourPrivateKey);
  return loadedIdentity(
    { type: "X25519", fingerprint: bech32.encode("age", bech32.toWords(ourPublicKey), false), path, ...(note ? { note } : {}) },
    { kind: "x25519", keys: { stanzaType: "X25519", label: X25519_LABEL, ourPrivateKey, ourPublicKey } },
  );
}

async function parseAgeIdentityLine(line: string, path: string): Promise<LoadedIdentity> {
  if (line.startsWith("AGE-SECRET-KEY-PQ-1")) {
    // Throws on a malformed key; the recipient is the public fingerprint we show.
    // age-encryption is loaded only when a post-quantum key is present.
    const { identityToRecipient } = await import("age-encryption");
    const fingerprint = await identityToRecipient(line);
    return loadedIdentity({ type: "mlkem768x25519", fingerprint, path }, { kind: "age-encryption", identity: line });
  }
  if (line.startsWith("AGE-SECRET-KEY-1")) {
    const decoded = bech32.decodeToBytes(line);
    if (decoded.prefix.toUpperCase() !== "AGE-SECRET-KEY-" || decoded.bytes.length !== 32) throw new Error("invalid");
    return x25519Identity(x25519PrivateKey(decoded.bytes), path);
  }
  if (/^(ssh-|ecdsa-|sk-)/.test(line)) throw new UnsupportedLine("an SSH public key; the private key is needed");
  if (line.startsWith("AGE-PLUGIN-")) throw new UnsupportedLine("age plugin identities are not supported");
  throw new Error("invalid");
}
