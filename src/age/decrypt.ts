import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { readFully } from "../read-fully.js";
import { AgebootError, describeCause } from "../errors.js";
import { describeIdentity, type LoadedIdentity } from "../identities/types.js";
import { parseHeader, verifyHeaderMac, type Stanza } from "./header.js";
import { chunkCount, decryptChunk, ENCRYPTED_CHUNK_SIZE, NONCE_SIZE, payloadKey } from "./stream.js";

const ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----";
const VERSION_LINE = Buffer.from("age-encryption.org/v1\n");
/** No real header comes near this (a post-quantum stanza is ~1.6 KiB); a bigger one is hostile. */
const MAX_HEADER_SIZE = 1024 * 1024;
/** Files up to this size are read in one call; larger ones are streamed in constant memory. */
const WHOLE_FILE_LIMIT = 4 * 1024 * 1024;
/** How much of a large file is read per step: 16 chunks. */
const STREAM_BATCH = 16 * ENCRYPTED_CHUNK_SIZE;

export type PlaintextSink = (chunk: Buffer) => void | Promise<void>;

/** A file whose header has verified: its plaintext, ready to be read once. */
export interface Plaintext {
  readonly size: number;
  /** Feed every plaintext chunk to `sink` in order, then release the file. Payload errors name the file. */
  pipeTo(sink: PlaintextSink): Promise<void>;
  /** Release the file without reading it. */
  close(): Promise<void>;
}

/**
 * Open the age file at `file` ("-": standard input), binary or armored, and
 * verify its header: it must be for one of `identities`, well-formed, and its
 * MAC must verify. The header is parsed and checked by age-encryption; the
 * payload is decrypted with Node's native ChaCha20-Poly1305 (./stream.ts).
 */
export async function openPlaintext(file: string, identities: readonly LoadedIdentity[]): Promise<Plaintext> {
  const seen: { stanzas: Stanza[] } = { stanzas: [] };
  let source: Ciphertext | undefined;
  try {
    source = await readCiphertext(file);
    const headerEnd = findHeaderEnd(source.head);
    const fileKey = await unwrapFileKey(source.head.subarray(0, headerEnd), identities, seen);
    if (source.size < headerEnd + NONCE_SIZE) throw new AgebootError("CORRUPT", "file is truncated after its header");
    const key = payloadKey(fileKey, source.head.subarray(headerEnd, headerEnd + NONCE_SIZE));
    const payloadStart = headerEnd + NONCE_SIZE;
    const chunks = chunkCount(source.size - payloadStart);
    return plaintextOf(file, source, key, payloadStart, chunks);
  } catch (error) {
    if (source?.fd !== undefined) closeSync(source.fd);
    throw explainFailure(file, error, seen.stanzas, identities);
  }
}

/** Decrypt a whole file into memory. */
export async function decryptToBuffer(file: string, identities: readonly LoadedIdentity[]): Promise<Buffer> {
  const plaintext = await openPlaintext(file, identities);
  const chunks: Buffer[] = [];
  await plaintext.pipeTo((chunk) => void chunks.push(chunk));
  return Buffer.concat(chunks);
}

interface Ciphertext {
  /** The whole file when small, armored or from stdin; otherwise its first bytes. */
  readonly head: Buffer;
  readonly size: number;
  /** Open only while a large file is being streamed. */
  readonly fd?: number;
}

/**
 * Synchronous reads on purpose: a boot reads hundreds of small files, and one
 * blocking system call each costs a fraction of a round trip through libuv's
 * thread pool with a promise per step (measured in docs/performance.md).
 */
async function readCiphertext(file: string): Promise<Ciphertext> {
  if (file === "-") return inMemory(await readAllStdin());
  const fd = openSync(file, "r");
  let keepOpen = false;
  try {
    const { size } = fstatSync(fd);
    const head = Buffer.allocUnsafe(Math.min(size, WHOLE_FILE_LIMIT));
    if (readFully(fd, head, 0) < head.length) throw new AgebootError("IO", "file shrank while being read");
    if (isArmored(head)) return inMemory(size > head.length ? readFileSync(fd) : head);
    if (size <= head.length) return { head, size };
    keepOpen = true; // a large file: streamed, closed by its Plaintext
    return { head, size, fd };
  } finally {
    if (!keepOpen) closeSync(fd);
  }
}

async function inMemory(bytes: Buffer): Promise<Ciphertext> {
  const binary = isArmored(bytes) ? await decodeArmor(bytes.toString("latin1")) : bytes;
  return { head: binary, size: binary.length };
}

function isArmored(bytes: Buffer): boolean {
  return bytes.subarray(0, 1024).toString("latin1").trimStart().startsWith(ARMOR_BEGIN);
}

/** ASCII armor, by age-encryption (loaded only for armored files). */
async function decodeArmor(text: string): Promise<Buffer> {
  const { armor } = await import("age-encryption");
  try {
    return Buffer.from(armor.decode(text));
  } catch (error) {
    throw new AgebootError("MALFORMED", `malformed ASCII armor (${describeCause(error)})`);
  }
}

/** The header ends after the first line that starts with "---" (the MAC line), as the parser reads it. */
function findHeaderEnd(bytes: Buffer): number {
  if (!bytes.subarray(0, VERSION_LINE.length).equals(VERSION_LINE)) {
    throw new AgebootError("MALFORMED", "not an age file (no age-encryption.org/v1 version line)");
  }
  const searchable = bytes.subarray(0, MAX_HEADER_SIZE);
  const macLine = searchable.indexOf("\n---");
  const end = macLine < 0 ? -1 : searchable.indexOf("\n", macLine + 1);
  if (end < 0) {
    throw new AgebootError("MALFORMED", bytes.length > MAX_HEADER_SIZE ? `header is larger than ${MAX_HEADER_SIZE} bytes` : "malformed or truncated age header (no MAC line)");
  }
  return end + 1;
}

/**
 * Unwrap the file key and verify the header MAC. Identity objects (SSH and
 * X25519 keys) run on our header parser; post-quantum identities, which
 * age-encryption keeps as strings, go through its own header path.
 */
async function unwrapFileKey(header: Buffer, identities: readonly LoadedIdentity[], seen: { stanzas: Stanza[] }): Promise<Uint8Array> {
  const parsed = parseHeader(header);
  seen.stanzas = parsed.stanzas;
  for (const { identity } of identities) {
    if (typeof identity === "string") continue;
    const fileKey = await identity.unwrapFileKey(parsed.stanzas);
    if (fileKey !== null) {
      verifyHeaderMac(parsed, fileKey);
      return fileKey;
    }
  }
  const libraryIdentities = identities.filter(({ identity }) => typeof identity === "string");
  if (libraryIdentities.length > 0) {
    const { Decrypter } = await import("age-encryption");
    const decrypter = new Decrypter();
    for (const { identity } of libraryIdentities) decrypter.addIdentity(identity);
    return decrypter.decryptHeader(header);
  }
  throw new AgebootError("NO_MATCH", noMatchMessage(parsed.stanzas, identities));
}

function plaintextOf(file: string, source: Ciphertext, key: Buffer, payloadStart: number, chunks: number): Plaintext {
  const size = source.size - payloadStart - chunks * 16;
  let fd = source.fd;
  const release = () => {
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
  };
  const pipeTo = async (sink: PlaintextSink) => {
    try {
      if (fd !== undefined) await streamChunks(fd, source.size, key, payloadStart, chunks, sink);
      else for (let index = 0; index < chunks; index++) {
        const start = payloadStart + index * ENCRYPTED_CHUNK_SIZE;
        const chunk = source.head.subarray(start, Math.min(start + ENCRYPTED_CHUNK_SIZE, source.size));
        await sink(decryptChunk(key, index, index === chunks - 1, chunk));
      }
    } catch (error) {
      throw explainFailure(file, error, [], [], "payload");
    } finally {
      release();
    }
  };
  return { size, pipeTo, close: async () => release() };
}

/** Read a large file batch by batch: memory stays constant whatever the size of the secret. */
async function streamChunks(fd: number, size: number, key: Buffer, payloadStart: number, chunks: number, sink: PlaintextSink): Promise<void> {
  const batch = Buffer.allocUnsafe(STREAM_BATCH);
  for (let index = 0; index < chunks; ) {
    const position = payloadStart + index * ENCRYPTED_CHUNK_SIZE;
    const length = Math.min(STREAM_BATCH, size - position);
    if (readFully(fd, batch.subarray(0, length), position) < length) throw new AgebootError("IO", "file shrank while being read");
    for (let offset = 0; offset < length; offset += ENCRYPTED_CHUNK_SIZE, index++) {
      const chunk = batch.subarray(offset, Math.min(offset + ENCRYPTED_CHUNK_SIZE, length));
      await sink(decryptChunk(key, index, index === chunks - 1, chunk));
    }
  }
}

async function readAllStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** What age-encryption's header error texts mean for a user, and their class. */
const headerFailures: Array<[RegExp, AgebootError["code"], string]> = [
  [/^invalid header HMAC/, "CORRUPT", "header MAC does not verify: the header was modified, or the file is corrupt"],
  [/^invalid version/, "MALFORMED", "not an age file (no age-encryption.org/v1 version line)"],
  [/^invalid (stanza|header)|non-ASCII byte in header|^stream ended/, "MALFORMED", "malformed or truncated age header"],
  [/^invalid (X25519|mlkem768x25519|scrypt) stanza|^scrypt/, "MALFORMED", "malformed recipient stanza"],
];

/**
 * Turn anything decryption threw into an AgebootError naming the file and cause.
 * Once the header has verified, every payload error means the ciphertext does
 * not authenticate, whatever words were used for it.
 */
function explainFailure(file: string, error: unknown, stanzas: Stanza[], identities: readonly LoadedIdentity[], phase: "header" | "payload" = "header"): AgebootError {
  if (error instanceof AgebootError) return new AgebootError(error.code, `${file}: ${error.message}`, { cause: error });
  const message = describeCause(error);
  if (message === "no identity matched any of the file's recipients") {
    return new AgebootError("NO_MATCH", `${file}: ${noMatchMessage(stanzas, identities)}`);
  }
  if ((error as NodeJS.ErrnoException).code !== undefined) {
    return new AgebootError("IO", `${file}: cannot ${phase === "payload" ? "write the plaintext" : "read"} (${message})`, { cause: error });
  }
  if (phase === "payload") {
    return new AgebootError("CORRUPT", `${file}: payload does not authenticate: the file is truncated, corrupted or tampered with (${message})`, { cause: error });
  }
  for (const [pattern, code, meaning] of headerFailures) {
    if (pattern.test(message)) return new AgebootError(code, `${file}: ${meaning} (${message})`, { cause: error });
  }
  return new AgebootError("MALFORMED", `${file}: cannot decrypt (${message})`, { cause: error });
}

function noMatchMessage(stanzas: Stanza[], identities: readonly LoadedIdentity[]): string {
  const recipients = stanzas.map(describeStanza).join(", ") || "no recipients";
  const tried = identities.map(describeIdentity).join("; ") || "none (no identity could be loaded)";
  return `no identity matches: the file is encrypted to [${recipients}]; tried: ${tried}. Rekey the file for this host's key.`;
}

/** A stanza as a user can match it against keys: type, and the key tag where the type has one. */
function describeStanza(stanza: Stanza): string {
  const [type = "?", firstArg] = stanza.args;
  if ((type === "ssh-ed25519" || type === "ssh-rsa") && firstArg !== undefined) return `${type} ${firstArg}`;
  if (type === "scrypt") return "scrypt (passphrase-encrypted)";
  return type;
}
