import { closeSync } from "node:fs";
import { AgebootError } from "../errors.js";
import { readFully } from "../read-fully.js";
import { ArmorDecoder } from "./armor-decoder.js";
import type { PayloadReader } from "./payload-reader.js";

/** Armored bytes read per step. */
const READ_BYTES = 1024 * 1024;

/**
 * An armored file too large to hold, read twice in constant memory: once to
 * check all of its armor, learn its decoded size and keep its first decoded
 * bytes in `head` (the age header is in them; its armored bytes are not
 * needed any more, so the buffer is reused), before any
 * plaintext exists; then again, by armoredPayloadReader, to decode the
 * payload as it is decrypted. The decoded size must be known before
 * decryption: a secret's plaintext size decides the last chunk and is
 * compared with the current generation's.
 */
export function scanArmoredFile(fd: number, head: Buffer): { head: Buffer; size: number } {
  const headBytes = head.length;
  let size = 0;
  decodeWhole(fd, (piece) => {
    if (size < headBytes) piece.copy(head, size, 0, Math.min(piece.length, headBytes - size));
    size += piece.length;
  });
  return { head: head.subarray(0, Math.min(size, headBytes)), size };
}

/** The decoded bytes of an armored file, decoded again as they are asked for. Takes over `fd`. */
export function armoredPayloadReader(fd: number, size: number): PayloadReader {
  const armored = Buffer.allocUnsafe(READ_BYTES);
  let armoredPosition = 0;
  let ended = false;
  // What one step decodes (at most 3/4 of READ_BYTES, and a line carried over), reused: no garbage per step.
  const decoded = Buffer.allocUnsafe(READ_BYTES);
  let decodedLength = 0;
  let consumed = 0;
  /** The binary position of decoded[0]. */
  let decodedStart = 0;
  const decoder = new ArmorDecoder((piece) => {
    piece.copy(decoded, decodedLength);
    decodedLength += piece.length;
  });

  /** Decode one more step of the file, once the previous one is used up; false at its end. */
  const decodeMore = (): boolean => {
    if (ended) return false;
    decodedStart += decodedLength;
    decodedLength = 0;
    consumed = 0;
    const length = readFully(fd, armored, armoredPosition);
    armoredPosition += length;
    if (length > 0) decoder.push(armored.subarray(0, length));
    else {
      decoder.end();
      ended = true;
      if (decodedStart !== size) throw new AgebootError("IO", "file changed while being read");
    }
    return true;
  };

  const read = (buffer: Buffer, position: number): number => {
    if (position < decodedStart + consumed) throw new Error(`armored payload read backwards (${position} < ${decodedStart + consumed})`);
    let filled = 0;
    while (filled < buffer.length) {
      consumed = Math.max(consumed, Math.min(decodedLength, position + filled - decodedStart));
      if (consumed === decodedLength) {
        if (!decodeMore()) break;
        continue;
      }
      const copied = decoded.copy(buffer, filled, consumed, decodedLength);
      filled += copied;
      consumed += copied;
    }
    return filled;
  };

  return { read, close: () => closeSync(fd) };
}

function decodeWhole(fd: number, sink: (piece: Buffer) => void): void {
  const armored = Buffer.allocUnsafe(READ_BYTES);
  const decoder = new ArmorDecoder(sink);
  for (let position = 0; ; ) {
    const length = readFully(fd, armored, position);
    if (length === 0) break;
    decoder.push(armored.subarray(0, length));
    position += length;
  }
  decoder.end();
}
