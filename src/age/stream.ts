import { createDecipheriv, hkdfSync } from "node:crypto";
import { AgebootError } from "../errors.js";

/**
 * The age payload (age spec, "Payload"): a 16-byte nonce, then ChaCha20-Poly1305
 * chunks of 64 KiB plaintext, the last one flagged. Implemented on Node's
 * native (OpenSSL) cipher: age-encryption's pure-JS STREAM is an order of
 * magnitude slower on large secrets (figures in docs/performance.md).
 */
export const NONCE_SIZE = 16;
const CHUNK_SIZE = 64 * 1024;
const TAG_SIZE = 16;
export const ENCRYPTED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE;

export function payloadKey(fileKey: Uint8Array, nonce: Uint8Array): Buffer {
  return Buffer.from(hkdfSync("sha256", fileKey, nonce, "payload", 32));
}

/** How the payload after the nonce divides into chunks; throws when no valid age payload has that length. */
export function chunkCount(payloadLength: number): number {
  if (payloadLength < TAG_SIZE) throw new AgebootError("CORRUPT", "payload is truncated");
  const count = Math.ceil(payloadLength / ENCRYPTED_CHUNK_SIZE);
  const lastLength = payloadLength - (count - 1) * ENCRYPTED_CHUNK_SIZE;
  if (lastLength < TAG_SIZE) throw new AgebootError("CORRUPT", "payload is truncated or has trailing data");
  if (lastLength === TAG_SIZE && count > 1) throw new AgebootError("CORRUPT", "final chunk is empty (truncated or tampered with)");
  return count;
}

/** Decrypt chunk `index`; `last` sets the final-chunk flag in the nonce, as the format requires. */
export function decryptChunk(key: Uint8Array, index: number, last: boolean, chunk: Uint8Array): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUIntBE(index, 5, 6); // the 11-byte big-endian counter; 2^48 chunks is beyond any file
  nonce[11] = last ? 1 : 0;
  const decipher = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG_SIZE });
  decipher.setAuthTag(chunk.subarray(chunk.length - TAG_SIZE));
  const plaintext = decipher.update(chunk.subarray(0, chunk.length - TAG_SIZE));
  try {
    decipher.final();
  } catch {
    plaintext.fill(0); // never hand on, or keep, unauthenticated plaintext
    throw new AgebootError("CORRUPT", `payload does not authenticate at chunk ${index}: the file is truncated, corrupted or tampered with`);
  }
  return plaintext;
}
