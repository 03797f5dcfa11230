import { createPrivateKey, createPublicKey, diffieHellman, hkdfSync, type KeyObject } from "node:crypto";
import { createDecipheriv } from "node:crypto";

// DER prefixes that wrap a raw 32-byte key into PKCS#8 / SPKI, so that Node's
// native X25519 and Ed25519 can be used on raw key bytes without a JS curve library.
const x25519Pkcs8Prefix = Buffer.from("302e020100300506032b656e04220420", "hex");
const ed25519Pkcs8Prefix = Buffer.from("302e020100300506032b657004220420", "hex");

export const X25519_KEY_SIZE = 32;
const FILE_KEY_SIZE = 16;
const POLY1305_TAG_SIZE = 16;

export function x25519PrivateKey(scalar: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([x25519Pkcs8Prefix, scalar]), format: "der", type: "pkcs8" });
}

/** A public key object for a raw point. JWK import, because it costs a tenth of DER import in Node 20. */
export function x25519PublicKey(point: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: "OKP", crv: "X25519", x: Buffer.from(point).toString("base64url") }, format: "jwk" });
}

export function ed25519PrivateKey(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([ed25519Pkcs8Prefix, seed]), format: "der", type: "pkcs8" });
}

/** The raw 32 bytes of a public key object (the last bytes of its SPKI encoding). */
export function rawPublicKey(key: KeyObject): Buffer {
  return createPublicKey(key).export({ format: "der", type: "spki" }).subarray(-X25519_KEY_SIZE);
}

/**
 * X25519(scalar, point). Returns null when the point is of low order (the shared
 * secret would be all zeros), which the age spec requires to be rejected.
 */
export function x25519(privateKey: KeyObject, point: Uint8Array | KeyObject): Buffer | null {
  const publicKey = point instanceof Uint8Array ? x25519PublicKey(point) : point;
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey, publicKey });
  } catch {
    return null; // OpenSSL refuses an all-zero result
  }
  return shared.every((byte) => byte === 0) ? null : shared;
}

export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: string): Buffer {
  return Buffer.from(hkdfSync("sha256", ikm, salt, info, 32));
}

export type UnwrapResult = { fileKey: Uint8Array } | { wrongSize: true } | null;

/**
 * ChaCha20-Poly1305 open with a zero nonce, as age wraps a 16-byte file key.
 * Returns null when authentication fails (a different key), and `wrongSize`
 * when the body cannot hold a file key at all (a malformed stanza).
 */
export function unwrapFileKey(wrappingKey: Uint8Array, body: Uint8Array): UnwrapResult {
  if (body.length !== FILE_KEY_SIZE + POLY1305_TAG_SIZE) return { wrongSize: true };
  const decipher = createDecipheriv("chacha20-poly1305", wrappingKey, Buffer.alloc(12), {
    authTagLength: POLY1305_TAG_SIZE,
  });
  decipher.setAuthTag(body.subarray(FILE_KEY_SIZE));
  try {
    const fileKey = Buffer.concat([decipher.update(body.subarray(0, FILE_KEY_SIZE)), decipher.final()]);
    return { fileKey };
  } catch {
    return null;
  }
}
