import { printable } from "./printable.js";

/**
 * systemd unit names in `restartUnits` and `reloadUnits`, checked as systemd
 * checks them (unit_name_is_valid in systemd's src/basic/unit-name.c): at most
 * 255 characters of [A-Za-z0-9:_.\-] plus "@" for a template's instance, and a
 * unit type suffix. A name without a known type gets ".service", as systemctl
 * does with "nginx". A template without an instance ("getty@.service") names no
 * unit that could run, so it is refused rather than silently never restarted.
 */
const UNIT_TYPES = new Set(["service", "socket", "device", "mount", "automount", "swap", "target", "path", "timer", "slice", "scope"]);
const UNIT_NAME_MAX = 255;
const MAX_UNITS = 1000;
const UNIT_NAME = /^[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]+)?\.[a-z]+$/;

/** The unit's full name, or why it is not one. */
export function normalizeUnitName(value: string): { unit: string } | { problem: string } {
  const lastDot = value.lastIndexOf(".");
  const type = lastDot === -1 ? "" : value.slice(lastDot + 1);
  const unit = UNIT_TYPES.has(type) ? value : `${value}.service`;
  if (unit.length > UNIT_NAME_MAX) return { problem: `longer than ${UNIT_NAME_MAX} characters` };
  if (/@\.[a-z]+$/.test(unit)) return { problem: `"${printable(unit)}" is a template: name an instance, such as "${printable(unit.replace("@.", "@name."))}"` };
  if (!UNIT_NAME.test(unit)) return { problem: `"${printable(unit)}" is not a systemd unit name (letters, digits and ":_.\\-", one "@" before an instance)` };
  return { unit };
}

/** A list of unit names (absent: empty), each normalized, duplicates dropped; null after reporting a problem. */
export function parseUnitList(value: unknown, problem: (what: string) => void): string[] | null {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((entry) => typeof entry !== "string")) {
    problem('must be a list of systemd unit names, such as ["nginx.service"]');
    return null;
  }
  if (value.length > MAX_UNITS) {
    problem(`more than ${MAX_UNITS} units`);
    return null;
  }
  const units = new Set<string>();
  for (const entry of value as string[]) {
    const normalized = normalizeUnitName(entry);
    if ("problem" in normalized) {
      problem(normalized.problem);
      return null;
    }
    units.add(normalized.unit);
  }
  return [...units];
}
