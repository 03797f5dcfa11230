import { lstatSync, readlinkSync, realpathSync, type Stats, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join } from "node:path";
import { forbiddenLinks, forbiddenPlaces, type ManifestPaths } from "../manifest/forbidden-paths.js";

/** As the kernel's own limit on symlinks in one lookup (ELOOP). */
const MAX_SYMLINKS = 40;

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
 * - every symlink its path resolves through, as an entry: a custom path made
 *   at one would replace the link (`path: /etc/ssh` where /etc/ssh links to
 *   /persist/etc/ssh and the host key is /etc/ssh/key: the next run had no key);
 * and the system's links that no custom path may be (/var/run, /etc/static), as entries.
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
      for (const link of symlinksOnTheWay(place)) this.addEntry(dirname(link), basename(link), `${reason} (${link} is a symlink it resolves through)`);
    }
    for (const [link, what] of forbiddenLinks()) this.addEntry(dirname(link), basename(link), `${link}: ${what}`);
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

/**
 * The symlinks resolving `path` goes through, each as a path whose directories
 * are real (no symlink in them), in the order met; a chain of links gives
 * each. Stops, with what it found, at a missing component or after MAX_SYMLINKS.
 */
export function symlinksOnTheWay(path: string): string[] {
  const found: string[] = [];
  let remaining = path.split("/").filter((part) => part !== "" && part !== ".");
  let current = "/";
  let hops = 0;
  while (remaining.length > 0) {
    const part = remaining.shift()!;
    if (part === "..") {
      current = dirname(current);
      continue;
    }
    const next = join(current, part);
    let info: Stats;
    try {
      info = lstatSync(next);
    } catch {
      return found;
    }
    if (!info.isSymbolicLink()) {
      current = next;
      continue;
    }
    if (++hops > MAX_SYMLINKS) return found;
    found.push(next);
    let target: string;
    try {
      target = readlinkSync(next);
    } catch {
      return found;
    }
    if (isAbsolute(target)) current = "/";
    remaining = [...target.split("/").filter((piece) => piece !== "" && piece !== "."), ...remaining];
  }
  return found;
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
