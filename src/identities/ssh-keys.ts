import { createHash, createPrivateKey, type KeyObject } from "node:crypto";
import type sshpk from "sshpk";
import { encodeBase64NoPad } from "../age/base64.js";
import { ed25519PrivateKey, hkdfSha256, rawPublicKey, x25519PrivateKey } from "../age/x25519.js";
import { x25519Identity } from "./age-keys.js";
import { loadedIdentity, type LoadedIdentity } from "./types.js";

const ED25519_LABEL = "age-encryption.org/v1/ssh-ed25519";

/** The stanza tag: the first 4 bytes of SHA-256 over the SSH wire-format public key. */
export function sshTag(sshWirePublicKey: Buffer): string {
  return encodeBase64NoPad(createHash("sha256").update(sshWirePublicKey).digest().subarray(0, 4));
}

/** Thrown for a key file that parses but cannot be used; the loader reports and skips it. */
export class UnusableKeyError extends Error {}

/**
 * Identities for one OpenSSH/PEM/PKCS#8 private key, as parsed by sshpk:
 * an ed25519 key yields its ssh-ed25519 identity and the native X25519 identity
 * derived from it (what ssh-to-age computes, used by sops-nix); an RSA key yields
 * its ssh-rsa identity.
 */
export function identitiesFromSshKey(key: sshpk.PrivateKey, path: string): LoadedIdentity[] {
  const sshWirePublicKey = key.toPublic().toBuffer("rfc4253", {});
  const fingerprint = key.toPublic().fingerprint("sha256").toString();
  const tag = sshTag(sshWirePublicKey);
  switch (key.type) {
    case "ed25519":
      return ed25519Identities(key, sshWirePublicKey, fingerprint, tag, path);
    case "rsa":
      return [loadedIdentity({ type: "ssh-rsa", fingerprint, tag, path }, { kind: "ssh-rsa", key: { privateKey: rsaKeyObject(key), tag, modulusBytes: Math.ceil(key.size / 8) } })];
    default:
      throw new UnusableKeyError(`${key.type} keys cannot decrypt age files (only ed25519 and rsa)`);
  }
}

function ed25519Identities(key: sshpk.PrivateKey, sshWirePublicKey: Buffer, fingerprint: string, tag: string, path: string): LoadedIdentity[] {
  // @types/sshpk types `part` by algorithm name; at run time it is keyed by part name.
  const parts = key.part as unknown as Record<string, { data: Buffer } | undefined>;
  const seed = parts["k"]?.data;
  const publicPoint = parts["A"]?.data;
  if (seed?.length !== 32 || publicPoint?.length !== 32) throw new UnusableKeyError("ed25519 key has the wrong size");
  // A key file whose public half does not belong to its private half would make
  // us compute a wrong tag and fail obscurely on every file; say so up front.
  if (!rawPublicKey(ed25519PrivateKey(seed)).equals(publicPoint)) {
    throw new UnusableKeyError("ed25519 public key does not match the private key");
  }
  // The X25519 scalar of an Ed25519 key is the first half of SHA-512(seed), and
  // its X25519 public key is the Montgomery form of the Ed25519 public key.
  const ourPrivateKey = x25519PrivateKey(createHash("sha512").update(seed).digest().subarray(0, 32));
  const ourPublicKey = rawPublicKey(ourPrivateKey);
  const tweak = x25519PrivateKey(hkdfSha256(new Uint8Array(0), sshWirePublicKey, ED25519_LABEL));
  return [
    loadedIdentity(
      { type: "ssh-ed25519", fingerprint, tag, path },
      { kind: "x25519", keys: { stanzaType: "ssh-ed25519", label: ED25519_LABEL, ourPrivateKey, ourPublicKey, tag, tweak } },
    ),
    x25519Identity(ourPrivateKey, path, "derived from the ed25519 key"),
  ];
}

/**
 * The RSA key as a Node key object, built from its parts as JWK. Not through
 * sshpk's PKCS#1 output: sshpk writes wrong CRT exponents (dp, dq), and OpenSSL
 * then falls back to a decryption four times slower (15 ms instead of 4 ms per
 * file for RSA-4096). The exponents are computed once per key, at load.
 */
function rsaKeyObject(key: sshpk.PrivateKey): KeyObject {
  const parts = key.part as unknown as Record<string, { data: Buffer } | undefined>;
  const part = (name: string) => {
    const data = parts[name]?.data;
    if (!data) throw new UnusableKeyError(`RSA key lacks its ${name} part`);
    return data;
  };
  const integer = (bytes: Buffer) => BigInt(`0x${bytes.toString("hex") || "0"}`);
  const jwkInteger = (value: bigint) => {
    const hex = value.toString(16);
    return Buffer.from(hex.length % 2 ? `0${hex}` : hex, "hex").toString("base64url");
  };
  const trimmed = (bytes: Buffer) => jwkInteger(integer(bytes)); // no sign-padding zero bytes
  const d = integer(part("d"));
  const p = integer(part("p"));
  const q = integer(part("q"));
  return createPrivateKey({
    key: {
      kty: "RSA",
      n: trimmed(part("n")),
      e: trimmed(part("e")),
      d: jwkInteger(d),
      p: jwkInteger(p),
      q: jwkInteger(q),
      dp: jwkInteger(d % (p - 1n)),
      dq: jwkInteger(d % (q - 1n)),
      qi: trimmed(part("iqmp")),
    },
    format: "jwk",
  });
}
