// The C2SP CCTV age test vectors (the "testkit" of the CCTV repository's age/
// directory), as published by the age authors in the `cctv-age` package (a
// devDependency, pinned: new vectors arrive by a deliberate bump), and the
// checks of ageboot against each: shared by test/unit/age-vectors.test.ts and,
// for the three large vectors, test/privileged/age-vectors-large.test.ts. The
// package exports one Uint8Array per vector, named after its file in age/testdata.
//
// Each vector is a textual header ("key: value" lines: expect, payload, file key,
// identity, passphrase, armored, compressed, comment), an empty line, then the
// age file; "compressed: zlib" means the generator deflated that file to keep
// the package small, so it is inflated here before ageboot sees it.
import { createDecipheriv, createHash, hkdfSync } from "node:crypto";
import { inflateSync } from "node:zlib";
import * as cctv from "cctv-age";
import { expect, it } from "vitest";
import { decryptAgeBytes } from "./age-decrypt-adapter.js";

export interface Vector {
  readonly name: string;
  readonly expect: string;
  /** sha256 (hex) of the plaintext released: all of it on success, the authenticated prefix on payload failure. */
  readonly payload: string | undefined;
  /** The file key (hex), to check payload chunks independently of ageboot. */
  readonly fileKey: string | undefined;
  readonly identities: readonly string[];
  readonly passphrases: readonly string[];
  readonly armored: boolean;
  readonly comment: string | undefined;
  readonly unknownKeys: readonly string[];
  /** Inflated to more than LARGE_VECTOR_BYTES: run by the privileged tier, not the unit tier. */
  readonly large: boolean;
  /** The age file itself, inflated (a large one on first use, then kept). */
  readonly file: Buffer;
}

/**
 * Three STREAM vectors inflate to 16 MiB each (257 and 258 chunks of 64 KiB).
 * Inflating and decrypting those 50 MiB is most of what the vectors cost, and
 * the unit tier must stay fast: they run in test/privileged/age-vectors-large.test.ts,
 * in process too, and every other vector (none above 200 KiB) in test/unit/age-vectors.test.ts.
 */
export const LARGE_VECTOR_BYTES = 1024 * 1024;

const KNOWN_KEYS = new Set(["expect", "payload", "file key", "identity", "passphrase", "armored", "compressed", "comment"]);

function parseVector(name: string, bytes: Uint8Array): Vector {
  const buffer = Buffer.from(bytes);
  const separator = buffer.indexOf("\n\n");
  if (separator < 0) throw new Error(`${name}: no empty line after the vector's header`);
  const values = new Map<string, string[]>();
  for (const line of buffer.subarray(0, separator).toString("utf8").split("\n")) {
    const colon = line.indexOf(": ");
    if (colon < 0) throw new Error(`${name}: header line without ": ": ${line}`);
    const key = line.slice(0, colon);
    values.set(key, [...(values.get(key) ?? []), line.slice(colon + 2)]);
  }
  const one = (key: string) => values.get(key)?.[0];
  const compression = one("compressed");
  if (compression !== undefined && compression !== "zlib") throw new Error(`${name}: unknown compression ${compression}`);
  const contents = ageFile(compression === "zlib", buffer.subarray(separator + 2));
  return {
    name,
    expect: one("expect") ?? "",
    payload: one("payload"),
    fileKey: one("file key"),
    identities: values.get("identity") ?? [],
    passphrases: values.get("passphrase") ?? [],
    armored: one("armored") === "yes",
    comment: one("comment"),
    unknownKeys: [...values.keys()].filter((key) => !KNOWN_KEYS.has(key)),
    large: contents.large,
    get file() {
      return contents.file();
    },
  };
}

/**
 * The age file of a vector, and whether it is large: inflated up to the bound,
 * and a large one then inflated whole on first use only, so that loading the
 * vectors costs the unit tier nothing for the files it does not run.
 */
function ageFile(compressed: boolean, body: Buffer): { large: boolean; file: () => Buffer } {
  if (!compressed) return { large: body.length > LARGE_VECTOR_BYTES, file: () => body };
  try {
    const file = inflateSync(body, { maxOutputLength: LARGE_VECTOR_BYTES });
    return { large: false, file: () => file };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ERR_BUFFER_TOO_LARGE") throw error;
    let file: Buffer | undefined;
    return { large: true, file: () => (file ??= inflateSync(body)) };
  }
}

/** The testkit's expectations as ageboot's AgebootError codes. */
const EXPECTED_CODE: Record<string, string> = {
  "no match": "NO_MATCH",
  "HMAC failure": "CORRUPT",
  "header failure": "MALFORMED",
  "payload failure": "CORRUPT",
  "armor failure": "MALFORMED",
};

/** Why ageboot does not run a vector; every vector not run must have one. */
function skipReason(vector: Vector): string | null {
  if (vector.passphrases.length > 0) {
    return "scrypt (passphrase) file: ageboot decrypts unattended at boot with host keys and takes no passphrases, by design";
  }
  if (vector.unknownKeys.length > 0) return `unknown vector keys ${vector.unknownKeys.join(", ")} (the testkit says to ignore such vectors)`;
  if (vector.expect !== "success" && !(vector.expect in EXPECTED_CODE)) return `unknown expectation "${vector.expect}"`;
  return null;
}

/**
 * Vectors where ageboot's result class differs from the testkit's. Each runs
 * twice: the testkit's expectation under it.fails (red once ageboot agrees, so
 * the entry goes), and ageboot's recorded behaviour under it (red if it drifts).
 */
export const KNOWN_DIVERGENCES: Record<string, { actual: string; why: string }> = {
  stream_no_nonce: {
    actual: "CORRUPT",
    why: "the file ends right after the MAC line: the testkit counts the 16-byte payload nonce as part of the header, ageboot's header ends at the MAC line and it reports a missing nonce as a truncated file",
  },
  stream_short_nonce: {
    actual: "CORRUPT",
    why: "fewer than 16 nonce bytes follow the MAC line: the testkit counts the nonce as part of the header, ageboot reports a short nonce as a truncated file",
  },
};

/**
 * Payload failures where ageboot hands on less plaintext before failing than
 * the testkit's streaming reference (whose released plaintext the vector's
 * `payload` hashes), with the number of 64 KiB chunks it does release. ageboot
 * knows the file's length before decrypting, so it rejects an impossible
 * length before any chunk and decrypts the chunk that ends the file as the
 * final one, where the reference still releases chunks it reads as non-final
 * or final before it sees the end. Releasing less is safe; what is released
 * is checked to be the vector's first chunks, authenticated independently.
 */
export const RELEASES_FEWER_CHUNKS: Record<string, number> = {
  armor_garbage_encoded: 0,
  stream_last_chunk_empty: 0,
  stream_no_final_full: 0,
  stream_no_final_two_chunks_full: 1,
  stream_short_second_chunk: 0,
  stream_trailing_garbage_long: 0,
  stream_trailing_garbage_short: 0,
  stream_two_final_chunks: 0,
  stream_two_final_chunks_full: 0,
  stream_two_final_chunks_second: 1,
};

/** What the vectors are expected to number (cctv-age 0.2.0): a bump that changes them is looked at. */
export const EXPECTED_TOTAL = 143;
export const EXPECTED_SKIPPED = 26;
/** The vectors above LARGE_VECTOR_BYTES, which the privileged tier runs. */
export const EXPECTED_LARGE = ["stream_257_chunks", "stream_257_chunks_full", "stream_258_chunks"];

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

export const vectors = Object.entries(cctv as Record<string, Uint8Array>)
  .map(([name, bytes]) => parseVector(name, bytes))
  .sort((a, b) => a.name.localeCompare(b.name));
export const skipped = vectors.flatMap((vector) => {
  const reason = skipReason(vector);
  return reason === null ? [] : [{ vector, reason }];
});
export const run = vectors.filter((vector) => skipReason(vector) === null);

const CHUNK_SIZE = 64 * 1024;
const ENCRYPTED_CHUNK_SIZE = CHUNK_SIZE + 16;

/**
 * The first `count` payload chunks of a binary vector, decrypted here as
 * non-final chunks with the vector's file key, without ageboot; throws if one
 * does not authenticate.
 */
function firstChunks(vector: Vector, count: number): Buffer {
  if (count === 0) return Buffer.alloc(0);
  const { file } = vector;
  const headerEnd = file.indexOf("\n", file.indexOf("\n--- ") + 1) + 1;
  const nonce = file.subarray(headerEnd, headerEnd + 16);
  const key = Buffer.from(hkdfSync("sha256", Buffer.from(vector.fileKey ?? "", "hex"), nonce, "payload", 32));
  const chunks: Buffer[] = [];
  for (let index = 0; index < count; index++) {
    const start = headerEnd + 16 + index * ENCRYPTED_CHUNK_SIZE;
    const chunk = file.subarray(start, start + ENCRYPTED_CHUNK_SIZE);
    const chunkNonce = Buffer.alloc(12);
    chunkNonce.writeUIntBE(index, 5, 6);
    const decipher = createDecipheriv("chacha20-poly1305", key, chunkNonce, { authTagLength: 16 });
    decipher.setAuthTag(chunk.subarray(CHUNK_SIZE));
    chunks.push(Buffer.concat([decipher.update(chunk.subarray(0, CHUNK_SIZE)), decipher.final()]));
  }
  return Buffer.concat(chunks);
}

const identityFileOf = (vector: Vector) => vector.identities.map((identity) => `${identity}\n`).join("");

/** The testkit's expectation, strictly. */
async function checkVector(vector: Vector): Promise<void> {
  const result = await decryptAgeBytes(vector.file, identityFileOf(vector));
  if (vector.expect === "success") {
    expect(result, result.ok ? "" : `${result.code}: ${result.message}`).toMatchObject({ ok: true });
    if (result.ok) expect(sha256(result.plaintext)).toBe(vector.payload);
    return;
  }
  expect(result, result.ok ? "decrypted, but should not have" : result.message).toMatchObject({ ok: false, code: EXPECTED_CODE[vector.expect] });
  if (result.ok || result.released === undefined) return;
  if (vector.expect !== "payload failure") {
    expect(result.released.length, "plaintext released before the header verified").toBe(0);
    return;
  }
  // All plaintext handed on before a payload failure must be the
  // authenticated prefix the vector's payload hash names...
  const fewer = RELEASES_FEWER_CHUNKS[vector.name];
  if (fewer === undefined) {
    expect(sha256(result.released), "plaintext released before the failure").toBe(vector.payload);
    return;
  }
  // ...or, where ageboot stops earlier than the reference, that many of the
  // file's first chunks, each authenticated as a non-final chunk.
  expect(result.released.equals(firstChunks(vector, fewer)), `the first ${fewer} chunks, and nothing else`).toBe(true);
  expect(sha256(result.released), "releases as much as the reference now: drop the entry").not.toBe(vector.payload);
}

/** ageboot's recorded behaviour on a vector where it disagrees with the testkit. */
async function checkDivergence(vector: Vector, actual: string): Promise<void> {
  const result = await decryptAgeBytes(vector.file, identityFileOf(vector));
  expect(result).toMatchObject({ ok: false, code: actual });
  if (!result.ok && result.released !== undefined) expect(result.released.length).toBe(0);
}

/** Each vector's tests: the testkit's expectation, or for a known divergence that expectation under it.fails and ageboot's recorded behaviour. */
export function vectorTests(vectors: readonly Vector[]): void {
  for (const vector of vectors) {
    const title = `${vector.name}: ${vector.expect}${vector.armored ? " (armored)" : ""}${vector.comment ? ` (${vector.comment})` : ""}`;
    const divergence = KNOWN_DIVERGENCES[vector.name];
    if (divergence === undefined) it(title, () => checkVector(vector));
    else {
      it.fails(`${title}: KNOWN DIVERGENCE: ageboot gives ${divergence.actual} (${divergence.why})`, () => checkVector(vector));
      it(`${vector.name}: ageboot gives ${divergence.actual}, as recorded`, () => checkDivergence(vector, divergence.actual));
    }
  }
}
