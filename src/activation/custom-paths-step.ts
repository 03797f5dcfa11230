import type { Logger } from "../log.js";
import type { ManifestPaths } from "../manifest/forbidden-paths.js";
import type { DeclaredItem } from "../manifest/types.js";
import { discardCustomPaths, type PreparedPath, prepareCustomPaths } from "./custom-paths.js";
import type { Generations } from "./generations.js";
import { type GenerationRecord, type UnitsOf, writeGenerationRecord } from "./generation-record.js";
import { type InstalledPath, nextRecord } from "./installed-paths.js";
import type { Outcome } from "./outcome.js";

/** What step 6 leaves for step 7: paths to rename into place, and paths of removed secrets to remove. */
export interface CustomPathsStep {
  readonly prepared: PreparedPath[];
  readonly stale: InstalledPath[];
}

/**
 * Step 6 of a run: every staged secret's custom path prepared under a temporary
 * name, and the new generation's record (from `previousPaths`, the current
 * generation's record of custom paths) written beside it
 * (generation-record.ts): what it installs outside the mount, so that a later
 * run can remove the paths of secrets the manifest stops declaring, and the
 * units each secret names, so that they restart when it leaves. If the record
 * cannot be written, nothing of this run stays: the temporaries and the
 * generation go.
 */
export async function prepareCustomPathsStep(
  outcomes: readonly Outcome[],
  declared: readonly DeclaredItem[],
  previousPaths: GenerationRecord["paths"],
  generations: Generations,
  generation: number,
  paths: ManifestPaths,
  log: Logger,
): Promise<CustomPathsStep> {
  const { secretsDir } = paths;
  const prepared = await prepareCustomPaths(outcomes, paths, generations.path(generation), log);
  const next = nextRecord(previousPaths, prepared, declared, secretsDir, log);
  try {
    writeGenerationRecord(generations.mountPoint, generation, { paths: next.record, units: unitsOfEach(outcomes) });
  } catch (error) {
    discardCustomPaths(prepared);
    generations.discard(generation);
    throw error;
  }
  return { prepared, stale: next.stale };
}

/**
 * The units each declared secret and template names, for the run that removes
 * it: by file name in the generation (a template's is rendered/<name>), the
 * names a later run finds removed (./changes.ts).
 */
function unitsOfEach(outcomes: readonly Outcome[]): Map<string, UnitsOf> {
  const units = new Map<string, UnitsOf>();
  for (const { fileName, restartUnits, reloadUnits } of outcomes) {
    if (restartUnits.length > 0 || reloadUnits.length > 0) units.set(fileName, { restart: restartUnits, reload: reloadUnits });
  }
  return units;
}
