import { ARMOR_BEGIN, ArmorDecoder, isAsciiSpace } from "./armor-decoder.js";

/** How far into a file white space before the armor is looked through. */
const DETECTION_WINDOW = 1024;

/** Whether `bytes` start (after white space, as the spec allows) with the age armor line. */
export function isArmored(bytes: Uint8Array): boolean {
  let start = 0;
  while (start < Math.min(bytes.length, DETECTION_WINDOW) && isAsciiSpace(bytes[start]!)) start++;
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, Math.min(bytes.length - start, ARMOR_BEGIN.length)).equals(ARMOR_BEGIN);
}

/**
 * An armored file held in memory (standard input, small files), decoded by
 * the streaming decoder into one buffer: three quarters of the input's size,
 * never its text. Throws AgebootError (MALFORMED) for anything but strict armor.
 */
export function decodeArmor(bytes: Buffer): Buffer {
  const decoded = Buffer.allocUnsafe(Math.floor((bytes.length * 3) / 4));
  let length = 0;
  const decoder = new ArmorDecoder((piece) => {
    piece.copy(decoded, length);
    length += piece.length;
  });
  decoder.push(bytes);
  decoder.end();
  return decoded.subarray(0, length);
}
