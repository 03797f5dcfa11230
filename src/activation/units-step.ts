import type { UnitsOf } from "./generation-record.js";
import type { Change } from "./outcome.js";

/** The units a run restarts and reloads, each once, sorted; a unit restarted is not also reloaded. */
export interface UnitRequests {
  readonly restart: readonly string[];
  readonly reload: readonly string[];
}

export const NO_UNITS: UnitRequests = { restart: [], reload: [] };

/** What the units step reads of each declared item (a secret, or a template): its change and the units it names. */
export interface UnitsOfOutcome {
  readonly name: string;
  readonly change: Change | null;
  readonly restartUnits: readonly string[];
  readonly reloadUnits: readonly string[];
}

/**
 * The units whose secrets this run changed: the units named by every item
 * added or changed (bytes, owner, group or mode: ./changes.ts), and by every
 * item removed from the manifest, as the previous generation's record names
 * them. An unchanged or failed item restarts nothing: a failed one still has
 * its previous value in place, or nothing the unit could read.
 */
export function unitsToNotify(outcomes: readonly UnitsOfOutcome[], removed: readonly string[], previousUnits: ReadonlyMap<string, UnitsOf>): UnitRequests {
  const restart = new Set<string>();
  const reload = new Set<string>();
  const add = (units: { restart: readonly string[]; reload: readonly string[] }) => {
    for (const unit of units.restart) restart.add(unit);
    for (const unit of units.reload) reload.add(unit);
  };
  for (const outcome of outcomes) {
    if (outcome.change === "added" || outcome.change === "changed") add({ restart: outcome.restartUnits, reload: outcome.reloadUnits });
  }
  for (const name of removed) add(previousUnits.get(name) ?? NO_UNITS);
  return { restart: [...restart].sort(), reload: [...reload].filter((unit) => !restart.has(unit)).sort() };
}
