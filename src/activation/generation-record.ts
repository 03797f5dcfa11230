import { closeSync, constants, fstatSync, openSync, readdirSync, readFileSync, writeSync } from "node:fs";
import { AgebootError, describeCause } from "../errors.js";
import { crashPoint } from "../fault-injection.js";
import type { Logger } from "../log.js";
import { normalizeUnitName } from "../manifest/units.js";
import { generationNumber } from "./generation-name.js";
import { type InstalledPath, isInstalledPath } from "./installed-paths.js";

/** The units a secret named, for the run that removes it from the manifest. */
export interface UnitsOf {
  readonly restart: readonly string[];
  readonly reload: readonly string[];
}

/**
 * What a generation did or asked for outside the mount, kept for the run that
 * follows it: the custom paths it installed (./installed-paths.ts), so that
 * the paths of secrets leaving the manifest are removed, and the units each of
 * its secrets named (./units-step.ts), so that those units restart when the
 * secret leaves.
 */
export interface GenerationRecord {
  readonly paths: readonly InstalledPath[];
  readonly units: ReadonlyMap<string, UnitsOf>;
}

const EMPTY: GenerationRecord = { paths: [], units: new Map() };

/**
 * The record of generation N lives beside it on the mount point, root's and
 * 0400. Not inside the generation: there every regular file is a secret to
 * whoever lists it (the change classification, `ageboot chown`, containers
 * reading through `current`), and a secret may be named anything that is not
 * "." or "..", so no name inside could be reserved without breaking a
 * manifest. The mount point itself holds only generation numbers, `current`
 * and `.current.ageboot-*` temporaries, so this name collides with nothing.
 * It is written before the generation becomes current and removed with it
 * (./generations.ts), so it always describes a generation that exists. The
 * name is the one the first records had (they held custom paths only), so a
 * host updated by a switch keeps the records its mount already holds.
 */
const RECORD_NAME = /^\.custom-paths-([1-9][0-9]{0,15})\.json$/;

/** A record is configuration-sized; a larger file on the mount point is not one ageboot wrote. */
const MAX_RECORD_BYTES = 64 * 1024 * 1024;

export function recordPath(mountPoint: string, generation: number): string {
  return `${mountPoint}/.custom-paths-${generation}.json`;
}

/** Generation numbers that have a record on the mount point. */
export function recordedGenerations(mountPoint: string): number[] {
  let names: string[];
  try {
    names = readdirSync(mountPoint);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const match = RECORD_NAME.exec(name);
    const generation = match?.[1] === undefined ? null : generationNumber(match[1]);
    return generation === null ? [] : [generation];
  });
}

/**
 * The record of `generation`; empty when there is none (a generation made
 * before records existed, or one that needed none) or it is unreadable: then
 * what it would have said is not acted on, with a warning.
 */
export function readGenerationRecord(mountPoint: string, generation: number | null, log: Logger): GenerationRecord {
  if (generation === null) return EMPTY;
  const path = recordPath(mountPoint, generation);
  let text: string;
  try {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      // Only a record ageboot wrote: its user's (root's), a regular file with one link that no one else can write.
      const info = fstatSync(fd);
      const us = process.geteuid?.() ?? 0;
      if (!info.isFile() || info.uid !== us || (info.mode & 0o022) !== 0 || info.nlink !== 1) {
        throw new Error(`not ageboot's (${info.isFile() ? `owner uid ${info.uid}, mode ${(info.mode & 0o7777).toString(8)}, ${info.nlink} links` : "not a regular file"})`);
      }
      text = readFileSync(fd, "utf8");
    } finally {
      closeSync(fd);
    }
    if (text.length > MAX_RECORD_BYTES) throw new Error(`larger than ${MAX_RECORD_BYTES} bytes`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") log.warn(`${path}: cannot read (${describeCause(error)}); ${UNUSED}`);
    return EMPTY;
  }
  try {
    const parsed = JSON.parse(text) as { paths?: unknown; units?: unknown };
    if (!Array.isArray(parsed.paths)) throw new Error("no list of paths");
    return { paths: parsed.paths.filter(isInstalledPath), units: parseUnits(parsed.units) };
  } catch (error) {
    log.warn(`${path}: not a record ageboot wrote (${describeCause(error)}); ${UNUSED}`);
    return EMPTY;
  }
}

const UNUSED = "custom paths of removed secrets stay in place and their units are not restarted";

/** Write generation N's record, exclusively, before N becomes current; nothing when it would be empty. */
export function writeGenerationRecord(mountPoint: string, generation: number, record: GenerationRecord): void {
  if (record.paths.length === 0 && record.units.size === 0) return;
  const path = recordPath(mountPoint, generation);
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o400);
  } catch (error) {
    throw new AgebootError("IO", `${path}: cannot create the generation's record (${describeCause(error)})`, { cause: error });
  }
  try {
    const units = Object.fromEntries(record.units);
    const bytes = Buffer.from(`${JSON.stringify({ version: 1, paths: record.paths, units }, null, 1)}\n`);
    for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset);
  } catch (error) {
    throw new AgebootError("IO", `${path}: cannot write the generation's record (${describeCause(error)})`, { cause: error });
  } finally {
    closeSync(fd);
  }
  crashPoint("write custom paths record");
}

/** The units of each secret, keeping only well-formed unit names (records written before units existed have none). */
function parseUnits(value: unknown): Map<string, UnitsOf> {
  const units = new Map<string, UnitsOf>();
  if (typeof value !== "object" || value === null || Array.isArray(value)) return units;
  const isUnitName = (unit: unknown): unit is string => {
    if (typeof unit !== "string") return false;
    const normalized = normalizeUnitName(unit);
    return "unit" in normalized && normalized.unit === unit;
  };
  const unitNames = (list: unknown) => (Array.isArray(list) ? list.filter(isUnitName) : []);
  for (const [secret, entry] of Object.entries(value)) {
    if (typeof entry !== "object" || entry === null) continue;
    const { restart, reload } = entry as Record<string, unknown>;
    units.set(secret, { restart: unitNames(restart), reload: unitNames(reload) });
  }
  return units;
}
