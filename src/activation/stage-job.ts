import { AgebootError, describeCause, type ErrorCode, errnoOf } from "../errors.js";
import type { SecretSource } from "../manifest/types.js";
import { openSecret, type SourceSession } from "../sources/registry.js";
import { ContentComparison } from "./content-comparison.js";
import { PipelinedWriter } from "./pipelined-writer.js";
import { writeAll, writeExclusive, type Ownership } from "./write-exclusive.js";

/** Secrets larger than this are written by the thread pool while they are decrypted (./pipelined-writer.ts). */
const PIPELINED_ABOVE_BYTES = 4 * 1024 * 1024;

/**
 * Where a staged secret's plaintext goes: a new file in the generation (created
 * and owned as writeExclusive does), or nowhere, for --dry-run, which runs the
 * same staging and only compares.
 */
export type StageSink = { readonly kind: "file"; readonly target: string; readonly ownership: Ownership } | { readonly kind: "compare-only" };

/** One secret to stage; plain data, so it can go to a worker thread. */
export interface StageJob {
  readonly name: string;
  readonly source: SecretSource;
  readonly sink: StageSink;
  /** The same secret in the current generation, compared byte for byte while staging. */
  readonly currentFile: string | null;
}

export type StageResult =
  | { readonly name: string; readonly ok: true; readonly sameContent: boolean; readonly size: number }
  | { readonly name: string; readonly ok: false; readonly code: ErrorCode; readonly message: string; readonly errno?: string | undefined };

/**
 * Decrypt one secret through its source into its sink. The source verifies
 * what it can first (an age header for one of our keys), so a wrong key
 * creates no file. Every error becomes a result: one secret never stops the others.
 */
export async function runStageJob(job: StageJob, session: SourceSession): Promise<StageResult> {
  try {
    const plaintext = await openSecret(job.source, session);
    const comparison = new ContentComparison(job.currentFile, plaintext.size);
    const { sink } = job;
    try {
      if (sink.kind === "compare-only") await plaintext.pipeTo((chunk) => comparison.update(chunk));
      else
        await writeExclusive(sink.target, sink.ownership, async (fd) => {
          if (plaintext.size <= PIPELINED_ABOVE_BYTES) {
            await plaintext.pipeTo((chunk) => {
              comparison.update(chunk);
              writeAll(fd, chunk, sink.target);
            });
            return;
          }
          // A large secret: written by the thread pool while the next batch is decrypted.
          const writer = new PipelinedWriter(fd, sink.target);
          try {
            await plaintext.pipeTo((chunk) => {
              comparison.update(chunk);
              return writer.add(chunk);
            });
            await writer.finish();
          } finally {
            await writer.settle();
          }
        });
    } finally {
      await plaintext.close();
    }
    return { name: job.name, ok: true, sameContent: comparison.matches(), size: plaintext.size };
  } catch (error) {
    if (error instanceof AgebootError) return { name: job.name, ok: false, code: error.code, message: error.message, errno: error.errno };
    return { name: job.name, ok: false, code: "IO", message: describeCause(error), errno: errnoOf(error) };
  }
}
