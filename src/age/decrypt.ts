import { AgebootError } from "../errors.js";
import { explainFailure } from "./explain-failure.js";
import { unwrapFileKey } from "./file-key.js";
import { parseHeader, type Stanza } from "./header.js";
import type { AgeIdentity } from "./identity.js";
import { inputName, readCiphertext, type Ciphertext, type CiphertextInput } from "./input.js";
import { MAX_HEADER_BYTES } from "./limits.js";
import type { PayloadReader } from "./payload-reader.js";
import { collectYoungGarbage } from "./young-garbage.js";
import { chunkCount, decryptChunk, ENCRYPTED_CHUNK_SIZE, NONCE_SIZE, payloadKey } from "./stream.js";

const VERSION_LINE = Buffer.from("age-encryption.org/v1\n");
/** How much of a large file is read per step: 16 chunks. */
const STREAM_BATCH = 16 * ENCRYPTED_CHUNK_SIZE;
/** Batches between scavenges of the plaintext buffers left behind (./young-garbage.ts): 2 MiB. */
const BATCHES_PER_SCAVENGE = 2;

export type PlaintextSink = (chunk: Buffer) => void | Promise<void>;

/** A file whose header has verified: its plaintext, ready to be read once. */
export interface Plaintext {
  readonly size: number;
  /** Feed every plaintext chunk to `sink` in order, then release the file. Payload errors name the input. */
  pipeTo(sink: PlaintextSink): Promise<void>;
  /** Release the file without reading it. */
  close(): Promise<void>;
}

/**
 * Open an age file, binary or armored, and verify its header: it must be for
 * one of `identities`, well-formed, and its MAC must verify. Header and stanzas
 * are parsed by ./header.ts (age-encryption only for post-quantum keys); the
 * payload is decrypted with Node's native ChaCha20-Poly1305 (./stream.ts).
 * Throws AgebootError naming the input; NoIdentityMatchedError when no identity fits.
 */
export async function openPlaintext(input: CiphertextInput, identities: readonly AgeIdentity[]): Promise<Plaintext> {
  const name = inputName(input);
  let source: Ciphertext | undefined;
  try {
    source = await readCiphertext(input);
    const headerEnd = findHeaderEnd(source.head);
    const fileKey = await unwrapFileKey(source.head.subarray(0, headerEnd), identities);
    if (source.size < headerEnd + NONCE_SIZE) throw new AgebootError("CORRUPT", "file is truncated after its header");
    const key = payloadKey(fileKey, source.head.subarray(headerEnd, headerEnd + NONCE_SIZE));
    const payloadStart = headerEnd + NONCE_SIZE;
    const chunks = chunkCount(source.size - payloadStart);
    return plaintextOf(name, source, key, payloadStart, chunks);
  } catch (error) {
    source?.payload?.close();
    throw explainFailure(name, error, "header");
  }
}

/**
 * The recipient stanzas of an age file, binary or armored, without decrypting
 * anything: what \`ageboot check\` matches against host public keys. Throws
 * AgebootError (MALFORMED for anything that is not a well-formed age header).
 */
export async function readStanzas(input: CiphertextInput): Promise<readonly Stanza[]> {
  const header = await readHeader(input);
  try {
    return parseHeader(header).stanzas;
  } catch (error) {
    throw explainFailure(inputName(input), error, "header");
  }
}

/**
 * The header of an age file, binary or armored, version line to MAC line,
 * and nothing of its payload: what `ageboot status` tries the host's
 * identities on. Throws AgebootError (MALFORMED when there is no age header).
 */
export async function readHeader(input: CiphertextInput): Promise<Buffer> {
  let source: Ciphertext | undefined;
  try {
    source = await readCiphertext(input);
    return Buffer.from(source.head.subarray(0, findHeaderEnd(source.head)));
  } catch (error) {
    throw explainFailure(inputName(input), error, "header");
  } finally {
    source?.payload?.close();
  }
}

/** Decrypt a whole age file into memory. */
export async function decryptToBuffer(input: CiphertextInput, identities: readonly AgeIdentity[]): Promise<Buffer> {
  const plaintext = await openPlaintext(input, identities);
  const chunks: Buffer[] = [];
  await plaintext.pipeTo((chunk) => void chunks.push(chunk));
  return Buffer.concat(chunks);
}

/** The header ends after the first line that starts with "---" (the MAC line), as the parser reads it. */
function findHeaderEnd(bytes: Buffer): number {
  if (!bytes.subarray(0, VERSION_LINE.length).equals(VERSION_LINE)) {
    throw new AgebootError("MALFORMED", "not an age file (no age-encryption.org/v1 version line)");
  }
  const searchable = bytes.subarray(0, MAX_HEADER_BYTES);
  const macLine = searchable.indexOf("\n---");
  const end = macLine < 0 ? -1 : searchable.indexOf("\n", macLine + 1);
  if (end < 0) {
    throw new AgebootError("MALFORMED", bytes.length > MAX_HEADER_BYTES ? `header is larger than ${MAX_HEADER_BYTES} bytes` : "malformed or truncated age header (no MAC line)");
  }
  return end + 1;
}

function plaintextOf(name: string, source: Ciphertext, key: Buffer, payloadStart: number, chunks: number): Plaintext {
  const size = source.size - payloadStart - chunks * 16;
  let payload = source.payload;
  const release = () => {
    payload?.close();
    payload = undefined;
  };
  const pipeTo = async (sink: PlaintextSink) => {
    try {
      if (payload !== undefined) await streamChunks(payload, source.size, key, payloadStart, chunks, sink);
      else
        for (let index = 0; index < chunks; index++) {
          const start = payloadStart + index * ENCRYPTED_CHUNK_SIZE;
          const chunk = source.head.subarray(start, Math.min(start + ENCRYPTED_CHUNK_SIZE, source.size));
          await sink(decryptChunk(key, index, index === chunks - 1, chunk));
        }
    } catch (error) {
      throw explainFailure(name, error, "payload");
    } finally {
      release();
    }
  };
  return { size, pipeTo, close: async () => release() };
}

/** Read a large file batch by batch: memory stays constant whatever the size of the secret. */
async function streamChunks(payload: PayloadReader, size: number, key: Buffer, payloadStart: number, chunks: number, sink: PlaintextSink): Promise<void> {
  const batch = Buffer.allocUnsafe(STREAM_BATCH);
  for (let index = 0, batches = 1; index < chunks; batches++) {
    if (batches % BATCHES_PER_SCAVENGE === 0) collectYoungGarbage();
    const position = payloadStart + index * ENCRYPTED_CHUNK_SIZE;
    const length = Math.min(STREAM_BATCH, size - position);
    if (payload.read(batch.subarray(0, length), position) < length) throw new AgebootError("IO", "file shrank while being read");
    if (position + length === size) payload.finish();
    for (let offset = 0; offset < length; offset += ENCRYPTED_CHUNK_SIZE, index++) {
      const chunk = batch.subarray(offset, Math.min(offset + ENCRYPTED_CHUNK_SIZE, length));
      await sink(decryptChunk(key, index, index === chunks - 1, chunk));
    }
  }
}
