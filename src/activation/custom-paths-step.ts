import type { Logger } from "../log.js";
import type { DeclaredItem } from "../manifest/types.js";
import { discardCustomPaths, type PreparedPath, prepareCustomPaths } from "./custom-paths.js";
import type { Generations } from "./generations.js";
import { type InstalledPath, nextRecord, readRecord, writeRecord } from "./installed-paths.js";
import type { Outcome } from "./outcome.js";

/** What step 6 leaves for step 7: paths to rename into place, and paths of removed secrets to remove. */
export interface CustomPathsStep {
  readonly prepared: PreparedPath[];
  readonly stale: InstalledPath[];
}

/**
 * Step 6 of a run: every staged secret's custom path prepared under a temporary
 * name, and the new generation's record of what it installs outside the mount
 * written beside it (installed-paths.ts), so that a later run can remove the
 * paths of secrets the manifest stops declaring. If the record cannot be
 * written, nothing of this run stays: the temporaries and the generation go.
 */
export async function prepareCustomPathsStep(
  outcomes: readonly Outcome[],
  declared: readonly DeclaredItem[],
  generations: Generations,
  generation: number,
  secretsDir: string,
  log: Logger,
): Promise<CustomPathsStep> {
  const prepared = await prepareCustomPaths(outcomes, secretsDir, generations.path(generation), log);
  const next = nextRecord(readRecord(generations.mountPoint, generations.current, log), prepared, declared, secretsDir, log);
  try {
    if (next.record.length > 0) writeRecord(generations.mountPoint, generation, next.record);
  } catch (error) {
    discardCustomPaths(prepared);
    generations.discard(generation);
    throw error;
  }
  return { prepared, stale: next.stale };
}
