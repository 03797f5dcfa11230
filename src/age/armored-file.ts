import { closeSync } from "node:fs";
import { AgebootError } from "../errors.js";
import { readFully } from "../read-fully.js";
import { ARMOR_BEGIN, ARMOR_COLUMNS, ARMOR_END, ArmorDecoder, isAsciiSpace } from "./armor-decoder.js";
import type { PayloadReader } from "./payload-reader.js";

/** Armored bytes read per step. */
const READ_BYTES = 1024 * 1024;
/** Armored bytes read per step while only the head is wanted. */
const HEAD_READ_BYTES = 64 * 1024;
/** The end of the file looked at to find the last body line: white space after END beyond this is a shape not predicted. */
const TAIL_BYTES = 4096;
const LF = 0x0a;
const CR = 0x0d;
const PAD = 0x3d; // "="

/*
 * An armored file too large to hold is never held: it is decoded as a stream
 * while its payload is decrypted. Decryption needs the decoded size first (it
 * decides which chunk is the last, and is compared with the current
 * generation's file), so there are two ways in:
 *
 * - One pass, for the shape every encoder writes (age -a, age-encryption):
 *   BEGIN, full 64-column lines, a last line, END, every line ending alike
 *   (LF, or CRLF). The decoded size follows from the file's size, the BEGIN
 *   line and the last lines (predictDecodedSize); the payload reader decodes
 *   the armor once, as it is decrypted, and checks the rest of it (END, what
 *   follows) and that it decoded to exactly that size before the last chunk is
 *   decrypted. A fault found on the way fails the secret with the same
 *   MALFORMED error, naming its line: its partial file is in the staged
 *   generation, which a failed secret never makes current, so nothing in
 *   place is lost (docs/reliability.md). A file of that shape whose middle
 *   lines mix LF and CRLF decodes to another size: refused, saying so.
 * - Two passes, for any other shape: scanArmoredFile checks all of the armor
 *   and counts its decoded bytes before any plaintext exists, then the payload
 *   reader decodes it again. An odd shape is most often a broken file, whose
 *   fault the first pass then names before anything is decrypted.
 */

/**
 * The decoded size of an armored file of the usual shape, from that shape
 * alone: the lines between BEGIN and the last body line all hold 48 bytes, so
 * their count is their bytes over 65 (66 with CRLF). `armoredHead` is the
 * file's first bytes. Null for any other shape; the caller then scans.
 */
export function predictDecodedSize(fd: number, fileSize: number, armoredHead: Buffer): number | null {
  let at = 0;
  while (at < armoredHead.length && isAsciiSpace(armoredHead[at]!)) at++;
  if (!armoredHead.subarray(at, at + ARMOR_BEGIN.length).equals(ARMOR_BEGIN)) return null;
  at += ARMOR_BEGIN.length;
  const crlf = armoredHead[at] === CR;
  if (crlf) at++;
  if (armoredHead[at] !== LF) return null;
  const bodyStart = at + 1;

  const tailLength = Math.min(TAIL_BYTES, fileSize - bodyStart);
  if (tailLength <= 0) return null;
  const tailStart = fileSize - tailLength;
  const tail = Buffer.allocUnsafe(tailLength);
  if (readFully(fd, tail, tailStart) !== tailLength) return null;
  let end = tailLength;
  while (end > 0 && isAsciiSpace(tail[end - 1]!)) end--;
  const endLine = end - ARMOR_END.length;
  if (endLine < 1 || tail[endLine - 1] !== LF || !tail.subarray(endLine, end).equals(ARMOR_END)) return null;
  // The last body line: from the LF before it to its own line ending, which must be the BEGIN line's.
  let lastEnd = endLine - 1;
  if (crlf !== (tail[lastEnd - 1] === CR)) return null;
  if (crlf) lastEnd--;
  const lastStart = tail.lastIndexOf(LF, lastEnd - 1) + 1;
  if (lastStart === 0) return null;
  const lastLength = lastEnd - lastStart;
  if (lastLength < 4 || lastLength > ARMOR_COLUMNS || lastLength % 4 !== 0) return null;
  const padding = tail[lastEnd - 1] === PAD ? (tail[lastEnd - 2] === PAD ? 2 : 1) : 0;

  const fullLineBytes = ARMOR_COLUMNS + (crlf ? 2 : 1);
  const fullBytes = tailStart + lastStart - bodyStart;
  if (fullBytes < 0 || fullBytes % fullLineBytes !== 0) return null;
  return (fullBytes / fullLineBytes) * ((ARMOR_COLUMNS / 4) * 3) + (lastLength / 4) * 3 - padding;
}

/**
 * The first decoded bytes of an armored file, into `head` (whose armored
 * contents are not needed any more): the age header is in them. Only as much
 * armor is read and checked as they take; a fault there is MALFORMED before
 * any plaintext exists.
 */
export function decodeHead(fd: number, head: Buffer): Buffer {
  let filled = 0;
  const decoder = new ArmorDecoder((piece) => {
    if (filled < head.length) filled += piece.copy(head, filled, 0, Math.min(piece.length, head.length - filled));
  });
  const armored = Buffer.allocUnsafe(HEAD_READ_BYTES);
  for (let position = 0; filled < head.length; ) {
    const length = readFully(fd, armored, position);
    if (length === 0) {
      decoder.end();
      break;
    }
    decoder.push(armored.subarray(0, length));
    position += length;
  }
  return head.subarray(0, filled);
}

/**
 * The two-pass way in: all of the armor checked and its decoded bytes counted,
 * and the first of them kept in `head` (the age header is in them; its
 * armored bytes are not needed any more, so the buffer is reused), before any
 * plaintext exists; armoredPayloadReader then decodes it again.
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

/**
 * The decoded bytes of an armored file, decoded as they are asked for, from
 * the start of the file. `size` is the decoded size, counted by
 * scanArmoredFile or predicted by predictDecodedSize; finish() checks the rest
 * of the armor and that size. Takes over `fd`.
 */
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
  const sizeDiffers = () =>
    new AgebootError(
      "MALFORMED",
      `malformed ASCII armor (it decodes to another size than its lines promise: ${size} bytes; lines that mix LF and CRLF endings, or a file changed while being read)`,
    );

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
    }
    if (decodedStart + decodedLength > size || (ended && decodedStart !== size)) throw sizeDiffers();
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

  /** Every decoded byte has been read: decode to the end of the file, which must add none. */
  const finish = (): void => {
    for (let more = true; more; ) more = decodeMore();
  };

  return { read, finish, close: () => closeSync(fd) };
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
