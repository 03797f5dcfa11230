import { lstatSync, readlinkSync, type Stats } from "node:fs";
import { dirname, resolve } from "node:path";

/**
 * Invariant 7: creating a file never follows a symlink planted in a path that a
 * non-root user can write to. Walk the directories leading to `path`; a symlink
 * among them is fine only when the directory holding it is writable by root
 * alone (a user could otherwise point it anywhere between our check and our write).
 * Returns what is wrong, or null. The final component is never followed by
 * ageboot (it is replaced by rename), so only the parents are checked.
 */
export function untrustedSymlinkIn(path: string): string | null {
  const parts = dirname(path).split("/").filter(Boolean);
  let current = "/";
  for (let index = 0, hops = 0; index < parts.length; index++) {
    const next = current === "/" ? `/${parts[index]}` : `${current}/${parts[index]}`;
    let info: Stats;
    try {
      info = lstatSync(next);
    } catch {
      return null; // does not exist yet: ageboot creates it, owned by root
    }
    if (info.isSymbolicLink()) {
      const holder = lstatSync(current);
      if (holder.uid !== 0 || (holder.mode & 0o022) !== 0) {
        return `${next} is a symlink in ${current}, which a user other than root can write to; refusing to follow it`;
      }
      if (++hops > 40) return `too many symlinks under ${next}`;
      const target = resolve(current, readlinkSync(next));
      // Continue the walk from the symlink's target with the remaining parts.
      parts.splice(0, index + 1, ...target.split("/").filter(Boolean));
      index = -1;
      current = "/";
      continue;
    }
    current = next;
  }
  return null;
}
