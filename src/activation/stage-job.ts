import { AgebootError, describeCause, type ErrorCode } from "../errors.js";
import type { LoadedIdentity } from "../identities/types.js";
import { decryptInto, type Ownership } from "./stage.js";

/** One secret to decrypt into the new generation; plain data, so it can go to a worker thread. */
export interface StageJob {
  readonly name: string;
  readonly file: string;
  readonly target: string;
  readonly ownership: Ownership;
  /** The same secret in the current generation, for the change report. */
  readonly currentFile: string | null;
}

export type StageOutcome =
  | { readonly name: string; readonly ok: true; readonly sameContent: boolean }
  | { readonly name: string; readonly ok: false; readonly code: ErrorCode; readonly message: string };

export async function runStageJob(job: StageJob, identities: readonly LoadedIdentity[]): Promise<StageOutcome> {
  try {
    const sameContent = await decryptInto(job.target, job.file, identities, job.ownership, job.currentFile);
    return { name: job.name, ok: true, sameContent };
  } catch (error) {
    if (error instanceof AgebootError) return { name: job.name, ok: false, code: error.code, message: error.message };
    return { name: job.name, ok: false, code: "IO", message: describeCause(error) };
  }
}
