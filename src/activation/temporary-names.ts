import { randomBytes } from "node:crypto";
import { type Dir, opendirSync, unlinkSync } from "node:fs";
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

/**
 * The same, for the entry `name` of `directory` (a path, or a directory descriptor's
 * /proc/self/fd/N). The directory may be a user's (a custom path under the secret's
 * owner's home) and hold any number of entries: it is read as a stream, a few
 * entries at a time, never listed whole into memory.
 */
export function removeStaleTemporariesIn(directory: string, name: string): void {
  const prefix = temporaryPrefix(name);
  let listing: Dir;
  try {
    listing = opendirSync(directory);
  } catch {
    return;
  }
  try {
    // Removing entries while reading the directory is allowed (readdir(3) may or may not return them again).
    for (let entry = listing.readSync(); entry !== null; entry = listing.readSync()) {
      if (!entry.name.startsWith(prefix) || !/^[0-9a-f]{12}$/.test(entry.name.slice(prefix.length))) continue;
      unlinkQuietly(`${directory}/${entry.name}`);
      crashPoint("remove stale temporary");
    }
  } catch {
    // The directory went away or became unreadable while read: nothing more to remove.
  } finally {
    listing.closeSync();
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
