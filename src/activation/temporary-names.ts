import { randomBytes } from "node:crypto";
import { readdirSync, unlinkSync } from "node:fs";
import { basename, dirname } from "node:path";
import { crashPoint } from "../fault-injection.js";

/**
 * Things that replace `path` by rename are first made as ".<name>.ageboot-<random>"
 * in the same directory (rename is atomic only within one file system).
 */
export function temporaryNameFor(path: string): string {
  return `${dirname(path)}/${temporaryBaseNameFor(basename(path))}`;
}

/** The temporary's name alone, for a caller that reaches the directory by descriptor. */
export function temporaryBaseNameFor(name: string): string {
  return `${temporaryPrefix(name)}${randomBytes(6).toString("hex")}`;
}

function temporaryPrefix(name: string): string {
  return `.${name}.ageboot-`;
}

/** Remove temporaries for `path` that a killed run left behind (call under the lock). */
export function removeStaleTemporaries(path: string): void {
  removeStaleTemporariesIn(dirname(path), basename(path));
}

/** The same, for the entry `name` of `directory` (a path, or a directory descriptor's /proc/self/fd/N). */
export function removeStaleTemporariesIn(directory: string, name: string): void {
  const prefix = temporaryPrefix(name);
  let names: string[];
  try {
    names = readdirSync(directory);
  } catch {
    return;
  }
  const stale = names.filter((entry) => entry.startsWith(prefix) && /^[0-9a-f]{12}$/.test(entry.slice(prefix.length)));
  for (const entry of stale) {
    unlinkQuietly(`${directory}/${entry}`);
    crashPoint("remove stale temporary");
  }
}

/** Remove a file we made, when it may already be gone; failing to is not worth reporting. */
export function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already, or its directory went with a failed run
  }
}
