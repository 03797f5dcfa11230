import { RENDERED_DIRECTORY } from "../manifest/types.js";
import type { Outcome, SecretFailure } from "./outcome.js";
import type { UnitRequests } from "./units-step.js";

/** What a run did, read from its outcomes. */
export interface ActivationResult {
  readonly dryRun: boolean;
  /** The generation users see after the run (null: none). */
  readonly generation: number | null;
  /** Whether this run made a new generation current. */
  readonly installed: boolean;
  /** One per declared item: the secrets in manifest order, then the templates. */
  readonly outcomes: readonly Outcome[];
  /** File names the previous generation held that the manifest no longer declares (a template's: rendered/<name>). */
  readonly removed: readonly string[];
  readonly pruned: readonly number[];
  /** The units of what changed: asked to restart and reload when installed, or, in a dry run, what would be. */
  readonly units: UnitRequests;
  /** How they were asked for ("systemctl", "switch-to-configuration"), or null when they were not. */
  readonly unitsAskedThrough: string | null;
  readonly durationMs: number;
}

/** The names in each class, sorted, and every failure, for one kind of item (secrets, or templates). */
export interface ItemsSummary {
  readonly added: string[];
  readonly changed: string[];
  readonly unchanged: string[];
  readonly removed: string[];
  /** Installed root:root 0400 until \`ageboot chown\`: their owner or group did not exist yet. */
  readonly deferred: string[];
  readonly failures: SecretFailure[];
  /** Custom paths not installed; their items are in the generation (src/activation/failure-policy.ts). */
  readonly pathFailures: SecretFailure[];
}

/** What the summary line, sd_notify and the exit status say: the secrets' classes, and the templates' beside them. */
export interface ActivationSummary extends ItemsSummary {
  readonly templates: ItemsSummary;
}

export function summarize(result: ActivationResult): ActivationSummary {
  // A removed file under rendered/ was a template's (a manifest with templates names no secret there).
  const templatePrefix = `${RENDERED_DIRECTORY}/`;
  const removedTemplates = result.removed.filter((name) => name.startsWith(templatePrefix)).map((name) => name.slice(templatePrefix.length));
  const removedSecrets = result.removed.filter((name) => !name.startsWith(templatePrefix));
  return {
    ...summarizeKind(
      result.outcomes.filter((outcome) => outcome.kind === "secret"),
      removedSecrets,
    ),
    templates: summarizeKind(
      result.outcomes.filter((outcome) => outcome.kind === "template"),
      removedTemplates,
    ),
  };
}

function summarizeKind(outcomes: readonly Outcome[], removed: readonly string[]): ItemsSummary {
  const named = (change: string) =>
    outcomes
      .filter((outcome) => outcome.change === change)
      .map((outcome) => outcome.name)
      .sort();
  const byName = (a: SecretFailure, b: SecretFailure) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const failures = outcomes.flatMap((outcome) => (outcome.failed === null ? [] : [outcome.failed])).sort(byName);
  const pathFailures = outcomes.flatMap((outcome) => (outcome.pathFailed === null ? [] : [outcome.pathFailed])).sort(byName);
  const deferred = outcomes
    .filter((outcome) => outcome.deferredBecause !== null && outcome.failed === null)
    .map((outcome) => outcome.name)
    .sort();
  return { added: named("added"), changed: named("changed"), unchanged: named("unchanged"), removed: [...removed], deferred, failures, pathFailures };
}

/**
 * One line for people: what is current now, and the counts. Templates, when
 * there are any, get their own counts after the secrets', only those that are
 * not zero ("; templates: 1 changed, 2 unchanged").
 */
export function headline(result: ActivationResult, summary: ActivationSummary): string {
  const { added, changed, removed, unchanged, failures, templates } = summary;
  const pathFailures = summary.pathFailures.length + templates.pathFailures.length;
  const paths = pathFailures === 0 ? "" : `; ${pathFailures} custom path${pathFailures === 1 ? "" : "s"} not installed`;
  const templateCounts = (
    [
      ["added", templates.added.length],
      ["changed", templates.changed.length],
      ["removed", templates.removed.length],
      ["unchanged", templates.unchanged.length],
      ["failed", templates.failures.length],
    ] as const
  )
    .filter(([, count]) => count > 0)
    .map(([what, count]) => `${count} ${what}`);
  const templatesPart = templateCounts.length === 0 ? "" : `; templates: ${templateCounts.join(", ")}`;
  const counts = `${added.length} added, ${changed.length} changed, ${removed.length} removed, ${unchanged.length} unchanged, ${failures.length} failed${templatesPart}${paths}`;
  const current = result.generation ?? "none";
  if (result.dryRun) return `dry run: would install ${counts}; current generation ${current}`;
  if (result.installed) return `generation ${result.generation} is current: ${counts}`;
  if (failures.length + templates.failures.length > 0) return `nothing changed, generation ${current} stays current; the new generation was discarded: ${counts}`;
  return `nothing changed, generation ${current} stays current: ${counts}`;
}
