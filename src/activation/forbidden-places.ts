import { realpathSync, type Stats, statSync } from "node:fs";
import { basename, dirname } from "node:path";
import { forbiddenPlaces, type ManifestPaths } from "../manifest/forbidden-paths.js";

/**
 * The forbidden and reserved places of a custom path (../manifest/forbidden-paths.ts),
 * as the walk that writes a custom path meets them: by the identity (device and
 * inode) of directories, not by their names. Validation compares paths as
 * strings; here `/var/run/agenix.d/1/x` (with `/var/run -> /run`), a bind
 * mount of `/etc`, or `/var/run/agenix/y` (secretsDir through an alias) is
 * recognised as the place it reaches, before anything is created on the way
 * (issue 22, item 6: the alias of secretsDir made ageboot create a real
 * directory where the secretsDir link belongs, and the next boot failed).
 *
 * Each place is known two ways:
 * - as an entry: (the directory holding it, its last name), for the place itself
 *   whether it exists or not (secretsDir's link before the first run, the lock file);
 *   both as written and with every symlink in it resolved;
 * - as a directory, when it is one: whatever lies under it is refused.
 * Resolved once per run, by root, from places only root configures; the walk
 * then compares what it holds open by descriptor with these identities.
 */
export class ForbiddenPlaces {
  private readonly entries = new Map<string, string>();
  private readonly directories = new Map<string, string>();

  constructor(manifest: ManifestPaths) {
    for (const [place, what] of forbiddenPlaces(manifest)) {
      const reason = `${place}: ${what}`;
      this.addEntry(dirname(place), basename(place), reason);
      const real = realpathOrNull(place);
      if (real !== null) this.addEntry(dirname(real), basename(real), reason);
      const info = statOrNull(place);
      if (info?.isDirectory()) this.directories.set(identity(info), reason);
    }
  }

  /** Why the entry `name` of the directory `parent` (as fstat of its descriptor says) is a forbidden place, or null. */
  entryReason(parent: Stats, name: string): string | null {
    return this.entries.get(`${identity(parent)}/${name}`) ?? null;
  }

  /** Why the directory `info` (as fstat of its descriptor says) is, or holds only, forbidden places, or null. */
  directoryReason(info: Stats): string | null {
    return this.directories.get(identity(info)) ?? null;
  }

  private addEntry(parent: string, name: string, reason: string): void {
    if (name === "" || name === "/") return;
    const real = realpathOrNull(parent);
    const info = real === null ? null : statOrNull(real);
    if (info?.isDirectory()) this.entries.set(`${identity(info)}/${name}`, reason);
  }
}

function identity(info: Stats): string {
  return `${info.dev}:${info.ino}`;
}

function realpathOrNull(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}
