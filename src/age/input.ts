import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";
import { AgebootError } from "../errors.js";
import { readFully } from "../read-fully.js";
import { decodeArmor, isArmored } from "./armor.js";

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

/** The binary age file (armor removed), whole or, for a large binary file, its first bytes and a descriptor. */
export interface Ciphertext {
  /** The whole file when small, armored, from stdin or from bytes; otherwise its first bytes. */
  readonly head: Buffer;
  readonly size: number;
  /** Open only while a large file is being streamed; the Plaintext closes it. */
  readonly fd?: number;
}

/** Files up to this size are read in one call; larger ones are streamed in constant memory. */
const WHOLE_FILE_LIMIT = 4 * 1024 * 1024;

/**
 * Synchronous reads on purpose: a boot reads hundreds of small files, and one
 * blocking system call each costs a fraction of a round trip through libuv's
 * thread pool with a promise per step (measured in docs/performance.md).
 */
export async function readCiphertext(input: CiphertextInput): Promise<Ciphertext> {
  if ("stdin" in input) return inMemory(await readAllStdin());
  if ("bytes" in input) return inMemory(Buffer.from(input.bytes));
  const fd = "descriptor" in input ? input.descriptor : openRegularFile(input.file);
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

async function inMemory(bytes: Buffer): Promise<Ciphertext> {
  const binary = isArmored(bytes) ? await decodeArmor(bytes) : bytes;
  return { head: binary, size: binary.length };
}

async function readAllStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
