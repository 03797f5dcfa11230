import { write } from "node:fs";
import { promisify } from "node:util";
import { crashPoint } from "../fault-injection.js";
import { writeFailure } from "./write-exclusive.js";

const writeAsync = promisify(write);
/** Plaintext gathered per write. */
const BATCH_BYTES = 1024 * 1024;

/**
 * The writes of a large secret, overlapped with its decryption: plaintext is
 * gathered into 1 MiB batches, and each batch is written by libuv's thread
 * pool (the other core) while the main thread decrypts the next. Writing to
 * ramfs was the largest cost of a 256 MiB secret (node --cpu-prof: writeBuffer,
 * then the cipher, then the reads), and one thread did all three in turn.
 * One write at a time, in order, from two buffers that are zeroed once
 * written. Callers must settle() before the descriptor is closed, whatever
 * happened: a write still in the pool must not outlive its descriptor.
 */
export class PipelinedWriter {
  private readonly buffers = [Buffer.allocUnsafe(BATCH_BYTES), Buffer.allocUnsafe(BATCH_BYTES)];
  private current = 0;
  private length = 0;
  private position = 0;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly fd: number,
    private readonly target: string,
  ) {}

  async add(chunk: Uint8Array): Promise<void> {
    for (let offset = 0; offset < chunk.length; ) {
      const buffer = this.buffers[this.current]!;
      const copied = Math.min(chunk.length - offset, buffer.length - this.length);
      buffer.set(chunk.subarray(offset, offset + copied), this.length);
      offset += copied;
      this.length += copied;
      if (this.length === buffer.length) await this.writeCurrent();
    }
  }

  /** Write what is gathered and wait for every write. */
  async finish(): Promise<void> {
    if (this.length > 0) await this.writeCurrent();
    await this.pending;
  }

  /** Wait for the write in flight, if any, ignoring its failure (already reported, or superseded), and zero both buffers. */
  async settle(): Promise<void> {
    await this.pending.catch(() => {});
    for (const buffer of this.buffers) buffer.fill(0);
  }

  private async writeCurrent(): Promise<void> {
    await this.pending; // the other buffer's write is done (or throws here), so it may be refilled next
    const buffer = this.buffers[this.current]!;
    const bytes = buffer.subarray(0, this.length);
    const position = this.position;
    this.position += this.length;
    this.length = 0;
    this.current ^= 1;
    this.pending = this.writeAll(bytes, position).then(() => {
      bytes.fill(0);
    });
  }

  private async writeAll(bytes: Buffer, position: number): Promise<void> {
    try {
      for (let offset = 0; offset < bytes.length; ) {
        const { bytesWritten } = await writeAsync(this.fd, bytes, offset, bytes.length - offset, position + offset);
        offset += bytesWritten;
        crashPoint("write secret bytes");
      }
    } catch (error) {
      throw writeFailure(error, this.target);
    }
  }
}
