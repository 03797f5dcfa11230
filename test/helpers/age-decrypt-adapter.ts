// The one place where tests that feed ageboot raw age files (the CCTV vectors in
// test/unit/age-vectors.test.ts) touch its decryption API.
import { openPlaintext } from "../../src/age/decrypt.js";
import { AgebootError } from "../../src/errors.js";
import { identitiesFromAgeFile } from "../../src/identities/age-keys.js";

export type AgeDecryptResult =
  | { ok: true; plaintext: Buffer }
  | {
      ok: false;
      /** An AgebootError code: MALFORMED, CORRUPT, NO_MATCH, IO, ... */
      code: string;
      message: string;
      /**
       * The plaintext ageboot's streaming API had already handed on when the
       * failure came (only authenticated chunks may be). Leave it out if the
       * API behind this adapter ever releases nothing until the end.
       */
      released?: Buffer;
    };

/**
 * Decrypt an age file (binary or armored) held in memory with the identities
 * of a native age identity file's text (AGE-SECRET-KEY-1..., AGE-SECRET-KEY-PQ-1...),
 * the way activation does: header first, then every chunk through the sink.
 * An identity line ageboot cannot load throws (the caller's input is wrong);
 * every decryption failure comes back as its AgebootError code.
 */
export async function decryptAgeBytes(ciphertext: Uint8Array, identityFileText: string): Promise<AgeDecryptResult> {
  const { identities, problems } = await identitiesFromAgeFile(identityFileText, "test-identities");
  if (problems.length > 0) {
    throw new Error(`unusable identity lines: ${problems.map((p) => `${p.line}: ${p.reason}`).join("; ")}`);
  }
  const chunks: Buffer[] = [];
  try {
    const plaintext = await openPlaintext(
      { bytes: ciphertext, name: "vector" },
      identities.map(({ identity }) => identity),
    );
    await plaintext.pipeTo((chunk) => void chunks.push(Buffer.from(chunk)));
    return { ok: true, plaintext: Buffer.concat(chunks) };
  } catch (error) {
    if (!(error instanceof AgebootError)) throw error;
    return { ok: false, code: error.code, message: error.message, released: Buffer.concat(chunks) };
  }
}
