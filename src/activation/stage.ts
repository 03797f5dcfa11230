import { mkdirSync } from "node:fs";
import { AgebootError } from "../errors.js";
import { crashPoint } from "../fault-injection.js";
import type { LoadedIdentity } from "../identities/types.js";
import { setDirectoryAccess } from "./mount.js";
import type { SecretOutcome } from "./outcome.js";
import type { StageJob, StageSink } from "./stage-job.js";
import type { StagingThreads } from "./stage-parallel.js";
import { heldForTemplates as heldOwnership } from "./hand-over.js";

/** Where step 5 puts plaintext: a new generation's directory, or nowhere (--dry-run). */
export type StagingTarget = { readonly directory: string; readonly keysGid: number | null } | null;

/**
 * Step 5 of a run: every secret the plan accepted, decrypted through its
 * source into the new generation (or, with no target, compared only), on one
 * or two threads. Each outcome records that it was staged, or why it failed.
 * Secrets in `heldForTemplates` are staged as the running user's 0400 (root's), and given to their
 * owners only after step 5b has rendered the templates that name them (./hand-over.ts).
 */
export async function stageSecrets(
  outcomes: readonly SecretOutcome[],
  target: StagingTarget,
  currentDir: string | null,
  identities: readonly LoadedIdentity[],
  threads: StagingThreads,
  concurrency: number,
  heldForTemplates: ReadonlySet<string> = new Set(),
): Promise<void> {
  const planned = outcomes.filter((outcome) => outcome.failed === null);
  if (target !== null) {
    const made = new Set<string>();
    for (const outcome of planned) makeParentDirectories(target.directory, outcome.name, target.keysGid, made);
  }
  const heldAs = heldOwnership();
  const jobs = planned.map((outcome): StageJob => {
    const sink: StageSink =
      target === null
        ? { kind: "compare-only" }
        : { kind: "file", target: `${target.directory}/${outcome.name}`, ownership: heldForTemplates.has(outcome.name) ? heldAs : outcome.ownership! };
    return {
      name: outcome.name,
      source: { format: outcome.secret.format, file: outcome.secret.file, ...(outcome.secret.key === undefined ? {} : { key: outcome.secret.key }) },
      sink,
      currentFile: currentDir === null ? null : `${currentDir}/${outcome.name}`,
    };
  });
  const byName = new Map(planned.map((outcome) => [outcome.name, outcome]));
  for (const result of await threads.stageAll(jobs, identities, concurrency)) {
    const outcome = byName.get(result.name)!;
    if (result.ok) outcome.staged(result.sameContent, result.size);
    else outcome.fail(new AgebootError(result.code, result.message, { errno: result.errno }));
  }
}

/**
 * Create the directories a name with "/" needs inside a generation, each with
 * the generation's own access (0751, group keys). `made` remembers what exists already.
 */
export function makeParentDirectories(generationDir: string, name: string, keysGid: number | null, made: Set<string>): void {
  const parts = name.split("/").slice(0, -1);
  for (let depth = 1; depth <= parts.length; depth++) {
    const directory = `${generationDir}/${parts.slice(0, depth).join("/")}`;
    if (made.has(directory)) continue;
    made.add(directory);
    mkdirSync(directory, { mode: 0o751 });
    crashPoint("mkdir secret directory");
    setDirectoryAccess(directory, keysGid);
  }
}
