import type { SecretFailure, SecretOutcome } from "./outcome.js";
import type { UnitRequests } from "./units-step.js";

/** What a run did, read from its outcomes. */
export interface ActivationResult {
  readonly dryRun: boolean;
  /** The generation users see after the run (null: none). */
  readonly generation: number | null;
  /** Whether this run made a new generation current. */
  readonly installed: boolean;
  /** One per declared secret, in manifest order. */
  readonly outcomes: readonly SecretOutcome[];
  /** Names the previous generation held that the manifest no longer declares. */
  readonly removed: readonly string[];
  readonly pruned: readonly number[];
  /** The units of what changed: asked to restart and reload when installed, or, in a dry run, what would be. */
  readonly units: UnitRequests;
  /** How they were asked for ("systemctl", "switch-to-configuration"), or null when they were not. */
  readonly unitsAskedThrough: string | null;
  readonly durationMs: number;
}

/** The names in each class, sorted, and every failure: what the summary line, sd_notify and the exit status say. */
export interface ActivationSummary {
  readonly added: string[];
  readonly changed: string[];
  readonly unchanged: string[];
  readonly removed: string[];
  /** Installed root:root 0400 until \`ageboot chown\`: their owner or group did not exist yet. */
  readonly deferred: string[];
  readonly failures: SecretFailure[];
  /** Custom paths not installed; their secrets are in the generation (src/activation/failure-policy.ts). */
  readonly pathFailures: SecretFailure[];
}

export function summarize(result: ActivationResult): ActivationSummary {
  const named = (change: string) =>
    result.outcomes
      .filter((outcome) => outcome.change === change)
      .map((outcome) => outcome.name)
      .sort();
  const byName = (a: SecretFailure, b: SecretFailure) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const failures = result.outcomes.flatMap((outcome) => (outcome.failed === null ? [] : [outcome.failed])).sort(byName);
  const pathFailures = result.outcomes.flatMap((outcome) => (outcome.pathFailed === null ? [] : [outcome.pathFailed])).sort(byName);
  const deferred = result.outcomes
    .filter((outcome) => outcome.deferredBecause !== null && outcome.failed === null)
    .map((outcome) => outcome.name)
    .sort();
  return { added: named("added"), changed: named("changed"), unchanged: named("unchanged"), removed: [...result.removed], deferred, failures, pathFailures };
}

/** One line for people: what is current now, and the counts. */
export function headline(result: ActivationResult, summary: ActivationSummary): string {
  const { added, changed, removed, unchanged, failures, pathFailures } = summary;
  const paths = pathFailures.length === 0 ? "" : `; ${pathFailures.length} custom path${pathFailures.length === 1 ? "" : "s"} not installed`;
  const counts = `${added.length} added, ${changed.length} changed, ${removed.length} removed, ${unchanged.length} unchanged, ${failures.length} failed${paths}`;
  const current = result.generation ?? "none";
  if (result.dryRun) return `dry run: would install ${counts}; current generation ${current}`;
  if (result.installed) return `generation ${result.generation} is current: ${counts}`;
  if (failures.length > 0) return `nothing changed, generation ${current} stays current; the new generation was discarded: ${counts}`;
  return `nothing changed, generation ${current} stays current: ${counts}`;
}
