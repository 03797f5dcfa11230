import { closeSync, fstatSync, openSync } from "node:fs";
import { readFully } from "../read-fully.js";

// update() is synchronous, so one scratch buffer serves every comparison.
let scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * Compares a secret's new plaintext with the file users see now, by
 * reading the current file alongside the new bytes as they are written: a
 * memcmp per chunk, cheaper than hashing both, and nothing derived from a
 * secret is kept. A size difference settles it without reading at all.
 */
export class ContentComparison {
  private fd: number | null = null;
  private same: boolean;
  private position = 0;

  constructor(currentFile: string | null, newSize: number) {
    this.same = false;
    if (currentFile === null) return;
    try {
      const fd = openSync(currentFile, "r");
      if (fstatSync(fd).size === newSize) {
        this.fd = fd;
        this.same = true;
      } else closeSync(fd);
    } catch {
      // no current file: the secret is new
    }
  }

  update(chunk: Uint8Array): void {
    if (this.fd === null || !this.same) return;
    if (scratch.length < chunk.length) scratch = Buffer.allocUnsafe(chunk.length);
    const current = scratch.subarray(0, chunk.length);
    const filled = readFully(this.fd, current, this.position);
    this.position += filled;
    const equal = filled === chunk.length && current.equals(chunk);
    // The scratch buffer outlives this secret: leave none of its plaintext in it.
    current.fill(0);
    if (!equal) this.finish(false);
  }

  /** Whether every byte matched (and the sizes did); releases the current file. */
  matches(): boolean {
    this.finish(this.same);
    return this.same;
  }

  private finish(same: boolean): void {
    this.same = same;
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
