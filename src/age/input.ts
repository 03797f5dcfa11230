import { closeSync, constants, fstatSync, openSync } from "node:fs";
import { AgebootError } from "../errors.js";
import { readFully } from "../read-fully.js";
import { decodeArmor, isArmored } from "./armor.js";
import { armoredPayloadReader, decodeHead, predictDecodedSize, scanArmoredFile } from "./armored-file.js";
import { MAX_HEADER_BYTES } from "./limits.js";
import { binaryPayloadReader, type PayloadReader } from "./payload-reader.js";

/** Where an age file comes from. */
export type CiphertextInput =
  | { readonly file: string }
  /** A regular file opened by the caller (src/sources/trusted-ciphertext.ts); read and closed here. */
  | { readonly descriptor: number; readonly name: string }
  | { readonly stdin: true }
  | { readonly bytes: Uint8Array; readonly name: string };

/** What error messages call an input: the file's path, "standard input", or the name given with the bytes. */
export function inputName(input: CiphertextInput): string {
  if ("file" in input) return input.file;
  if ("stdin" in input) return "standard input";
  return input.name;
}

/** The binary age file (armor removed): whole, or for a large file its first bytes and a reader for the rest. */
export interface Ciphertext {
  /** The whole binary file when small or held in memory; otherwise its first bytes (the header is in them). */
  readonly head: Buffer;
  /** The binary file's size. */
  readonly size: number;
  /** Present only while a large file is being streamed; the Plaintext closes it. */
  readonly payload?: PayloadReader;
}

/** Files up to this size are read in one call; larger ones are streamed in constant memory. */
const WHOLE_FILE_LIMIT = 4 * 1024 * 1024;
/**
 * What is read first of a streamed file: room for the largest header allowed
 * and more (the header must end in it), and no more, since every byte of it
 * stays resident while the file streams (peak memory is a target: docs/performance.md).
 */
const STREAMED_HEAD_BYTES = MAX_HEADER_BYTES + 64 * 1024;

/**
 * Synchronous reads on purpose: a boot reads hundreds of small files, and one
 * blocking system call each costs a fraction of a round trip through libuv's
 * thread pool with a promise per step (measured in docs/performance.md).
 * An armored file larger than WHOLE_FILE_LIMIT is never held whole: its
 * armor is decoded while its payload is decrypted, in one pass when its shape
 * tells its decoded size, else after a first pass that checks it and counts
 * (src/age/armored-file.ts).
 */
export async function readCiphertext(input: CiphertextInput): Promise<Ciphertext> {
  if ("stdin" in input) return inMemory(await readAllStdin());
  if ("bytes" in input) return inMemory(Buffer.from(input.bytes));
  const fd = "descriptor" in input ? input.descriptor : openRegularFile(input.file);
  let keepOpen = false;
  try {
    const { size } = fstatSync(fd);
    const head = Buffer.allocUnsafe(size <= WHOLE_FILE_LIMIT ? size : STREAMED_HEAD_BYTES);
    if (readFully(fd, head, 0) < head.length) throw new AgebootError("IO", "file shrank while being read");
    if (size <= head.length) return inMemory(head);
    if (isArmored(head)) {
      const predicted = predictDecodedSize(fd, size, head);
      if (predicted !== null && predicted > head.length) {
        const decodedHead = decodeHead(fd, head);
        keepOpen = true; // streamed, closed by its Plaintext
        return { head: decodedHead, size: predicted, payload: armoredPayloadReader(fd, predicted) };
      }
      const scanned = scanArmoredFile(fd, head);
      if (scanned.size <= scanned.head.length) return { head: scanned.head, size: scanned.size };
      keepOpen = true; // streamed, closed by its Plaintext
      return { ...scanned, payload: armoredPayloadReader(fd, scanned.size) };
    }
    keepOpen = true;
    return { head, size, payload: binaryPayloadReader(fd) };
  } finally {
    if (!keepOpen) closeSync(fd);
  }
}

/**
 * O_NONBLOCK: a FIFO at the path must not hang the run (with no writer, a
 * blocking open waits forever); it is then refused, as is anything but a
 * regular file, on the open descriptor rather than by a stat of the path.
 */
function openRegularFile(path: string): number {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new AgebootError("IO", "not a regular file (for a pipe, give - and use standard input)");
  }
  return fd;
}

function inMemory(bytes: Buffer): Ciphertext {
  const binary = isArmored(bytes) ? decodeArmor(bytes) : bytes;
  return { head: binary, size: binary.length };
}

async function readAllStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
