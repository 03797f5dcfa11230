import { randomBytes } from "node:crypto";
import { readdir, unlink } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { mutated } from "../fault-injection.js";

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
export async function removeStaleTemporaries(path: string): Promise<void> {
  const prefix = temporaryPrefix(path);
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch {
    return;
  }
  const stale = names.filter((name) => name.startsWith(prefix) && /^[0-9a-f]{12}$/.test(name.slice(prefix.length)));
  for (const name of stale) {
    await unlink(`${dirname(path)}/${name}`).catch(() => {});
    mutated("remove stale temporary");
  }
}
