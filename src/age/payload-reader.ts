import { closeSync } from "node:fs";
import { readFully } from "../read-fully.js";

/**
 * Where the payload of a large file comes from once its header has been
 * read: the binary file read in place, or its armor decoded again as it is
 * read (src/age/armored-file.ts). Either way memory stays constant.
 */
export interface PayloadReader {
  /**
   * Fill `buffer` with the binary age file's bytes from `position` on;
   * returns how many there were (fewer at the end). Positions only move
   * forward, as the payload is decrypted chunk after chunk.
   */
  read(buffer: Buffer, position: number): number;
  /**
   * Called once the last byte has been read, before the last chunk is
   * decrypted: an armored file read in one pass checks the rest of its armor
   * and that it decoded to the size its shape promised.
   */
  finish(): void;
  close(): void;
}

/** A binary age file: pread at any position. Takes over `fd`. */
export function binaryPayloadReader(fd: number): PayloadReader {
  return {
    read: (buffer, position) => readFully(fd, buffer, position),
    finish: () => {},
    close: () => closeSync(fd),
  };
}
