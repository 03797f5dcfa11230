import { randomBytes } from "node:crypto";
import { readdirSync, unlinkSync } from "node:fs";
import { basename, dirname } from "node:path";
import { crashPoint } from "../fault-injection.js";

/**
 * Things that replace `path` by rename are first made as ".<name>.ageboot-<random>"
 * in the same directory (rename is atomic only within one file system).
 */
export function temporaryNameFor(path: string): string {
  return `${dirname(path)}/${temporaryPrefix(path)}${randomBytes(6).toString("hex")}`;
}

function temporaryPrefix(path: string): string {
  return `.${basename(path)}.ageboot-`;
}

/** Remove temporaries for `path` that a killed run left behind (call under the lock). */
export function removeStaleTemporaries(path: string): void {
  const prefix = temporaryPrefix(path);
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return;
  }
  const stale = names.filter((name) => name.startsWith(prefix) && /^[0-9a-f]{12}$/.test(name.slice(prefix.length)));
  for (const name of stale) {
    unlinkQuietly(`${dirname(path)}/${name}`);
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
