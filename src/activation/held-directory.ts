import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readlinkSync, type Stats } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { AgebootError, describeCause } from "../errors.js";
import { crashPoint } from "../fault-injection.js";

/**
 * Open a directory without following a symlink in its last component, and
 * without blocking on a FIFO someone put there (O_DIRECTORY refuses it first;
 * O_NONBLOCK is for certainty). Node adds O_CLOEXEC itself.
 */
const OPEN_DIRECTORY = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
/** The sticky bit (S_ISVTX): in such a directory (/tmp) only an entry's owner may rename or remove it. */
const STICKY = 0o1000;
/** As the kernel's own limit on symlinks in one lookup. */
const MAX_SYMLINKS = 40;
/** A component that keeps changing under us between two looks is a race we decline to play. */
const MAX_RETRIES = 20;

/**
 * Whose directories may be written under: those of root and a secret's owner,
 * writable by no group but the secret's own (custom paths), or anyone's
 * (`decrypt -o`, where the admin names the directory): even then, a symlink is
 * followed only where root alone can have put it, and a world-writable
 * directory must be sticky. A member of a group that can write a directory
 * can rename ageboot's temporary file away and put another in its place before
 * the rename that installs it, as its owner could. Node cannot read POSIX ACLs,
 * but an ACL that lets a named user or group write also sets the group write
 * bit (the ACL's mask shows there), so a write grant never goes unseen: it is
 * taken as the group's, and trusted only as the group would be.
 */
export const ANY_OWNER = "any owner";
export type TrustedOwners = { readonly uids: ReadonlySet<number>; readonly gids: ReadonlySet<number> } | typeof ANY_OWNER;

/**
 * Root and the user `uid`; of groups, only `gids` may write (never root's: on a
 * root:root directory a group write bit is almost always an ACL's mask).
 */
export function trustedFor(uid: number, gids: readonly number[]): TrustedOwners {
  return { uids: new Set([0, uid]), gids: new Set(gids.filter((gid) => gid !== 0)) };
}

/**
 * A directory held open by descriptor: names under it are reached through
 * `/proc/self/fd/<fd>/<name>`, which the kernel resolves inside that very
 * directory without walking its path again (Node has no openat(2)). Whatever
 * happens to the directory's path afterwards (renamed, replaced by a symlink),
 * what ageboot creates, renames or removes through it lands in this directory.
 */
export class HeldDirectory {
  constructor(
    /** The path it was reached by, for messages only: never used to reach it again. */
    readonly path: string,
    readonly fd: number,
  ) {}

  /** A path that names `name` inside this directory, whatever its path has become. */
  entry(name: string): string {
    return `/proc/self/fd/${this.fd}/${name}`;
  }

  /** The directory itself, through its descriptor (for readdir and statfs). */
  get self(): string {
    return `/proc/self/fd/${this.fd}`;
  }

  /** Replace descriptor paths in a message with the path people know. */
  explain(message: string): string {
    return message.replaceAll(this.self, this.path);
  }

  /** Once only: closing a number twice could close a descriptor opened since under the same number. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  private closed = false;
}

/**
 * Invariant 7 for custom paths: hold the directory that will contain `path`,
 * reached component by component from "/" by descriptor, creating the missing
 * ones (root's, 0755). Nothing is checked and then used by name: each component
 * is opened relative to its parent's descriptor, never through a symlink, and
 * checked on the descriptor it was opened as. It refuses:
 * - a directory that belongs to a user other than root or the secret's owner
 *   (`trustedOwners`): that user could make ageboot write wherever they like,
 *   or swap in what ageboot then installs;
 * - a directory every user can write to and rename in (world-writable, not
 *   sticky like /tmp): anyone could swap its entries;
 * - a symlink, unless the directory holding it is root's and writable by root
 *   alone (then only root can have put it there: /etc/ssh -> /persist/etc/ssh);
 * - a component that is not a directory.
 * Each refusal is an AgebootError naming the component and why.
 */
export function holdParentDirectory(path: string, trustedOwners: TrustedOwners, places: PlaceGuard | null = null): HeldDirectory {
  return walkToParent(path, trustedOwners, true, places)!;
}

/**
 * Places a walk must not enter or end at, known by the identity of the directories
 * it holds (./forbidden-places.ts): checked before each component is opened or
 * created, on each directory once held, and on the final name, so that an alias
 * (a symlink, a bind mount) is refused like the place itself.
 */
export interface PlaceGuard {
  /** Why `name` inside the directory `parent` (fstat of its descriptor) is a forbidden place, or null. */
  entryReason(parent: Stats, name: string): string | null;
  /** Why everything under the directory `info` (fstat of its descriptor) is forbidden, or null. */
  directoryReason(info: Stats): string | null;
}

/** The same walk, for removing what is there: creates nothing, and returns null when a directory is missing. */
export function holdExistingParentDirectory(path: string, trustedOwners: TrustedOwners): HeldDirectory | null {
  return walkToParent(path, trustedOwners, false, null);
}

function walkToParent(path: string, trustedOwners: TrustedOwners, create: boolean, places: PlaceGuard | null): HeldDirectory | null {
  let remaining = dirname(path).split("/").filter(Boolean);
  let held = new HeldDirectory("/", openDirectory("/", "/"));
  let symlinks = 0;
  try {
    while (remaining.length > 0) {
      const name = remaining.shift()!;
      const next = `${held.path === "/" ? "" : held.path}/${name}`;
      // Before opening (or creating) it: the entry may be a forbidden place reached through an alias.
      refuseForbidden(places?.entryReason(fstatSync(held.fd), name) ?? null, path, next);
      const step = descend(held, name, next, trustedOwners, create);
      if (step === null) {
        held.close();
        return null;
      }
      if ("symlinkTarget" in step) {
        if (++symlinks > MAX_SYMLINKS) throw refusal(`${next}: too many symlinks`);
        // Continue from the target, walked again from "/" with the same checks.
        remaining = [...resolve(held.path, step.symlinkTarget).split("/").filter(Boolean), ...remaining];
        held.close();
        held = new HeldDirectory("/", openDirectory("/", "/"));
        continue;
      }
      held.close();
      held = step.child;
      refuseForbidden(places?.directoryReason(fstatSync(held.fd)) ?? null, path, held.path);
    }
    requireTrusted(held, fstatSync(held.fd), trustedOwners);
    refuseForbidden(places?.entryReason(fstatSync(held.fd), basename(path)) ?? null, path, `${held.path === "/" ? "" : held.path}/${basename(path)}`);
    return held;
  } catch (error) {
    held.close();
    throw error;
  }
}

/** One component down from `parent`: the child held open, or the target of a symlink root alone can have made. */
function descend(parent: HeldDirectory, name: string, shownAs: string, trustedOwners: TrustedOwners, create: boolean): { child: HeldDirectory } | { symlinkTarget: string } | null {
  for (let attempt = 0; attempt < MAX_RETRIES; attempt++) {
    let fd: number;
    try {
      fd = openSync(parent.entry(name), OPEN_DIRECTORY);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" && !create) return null;
      if (code === "ENOENT") {
        // The parent is about to gain an entry: it must be one we may write in.
        requireTrusted(parent, fstatSync(parent.fd), trustedOwners);
        try {
          mkdirSync(parent.entry(name), { mode: 0o755 });
          crashPoint("mkdir custom path directory");
        } catch (mkdirError) {
          if ((mkdirError as NodeJS.ErrnoException).code !== "EEXIST") throw refusal(`${shownAs}: cannot create (${describeCause(mkdirError)})`);
        }
        continue; // open what is there now, with every check
      }
      if (code !== "ELOOP" && code !== "ENOTDIR") throw refusal(`${shownAs}: cannot open (${describeCause(error)})`);
      const info = lstatOrNull(parent.entry(name));
      if (info === null || info.isDirectory()) continue; // changed under us: look again
      if (!info.isSymbolicLink()) throw refusal(`${shownAs} is not a directory`);
      const holder = fstatSync(parent.fd);
      if (holder.uid !== 0 || (holder.mode & 0o022) !== 0) {
        throw refusal(`${shownAs} is a symlink in ${parent.path}, which a user other than root can write to; refusing to follow it`);
      }
      return { symlinkTarget: readlinkSync(parent.entry(name)) };
    }
    const child = new HeldDirectory(shownAs, fd);
    try {
      requireTrusted(parent, fstatSync(parent.fd), trustedOwners);
    } catch (error) {
      child.close();
      throw error;
    }
    return { child };
  }
  throw refusal(`${shownAs} kept changing while ageboot opened it; refusing to go on`);
}

/** Throws when the walk reached a forbidden place (`reason` says which), however `path` spelled it. */
function refuseForbidden(reason: string | null, path: string, reached: string): void {
  if (reason === null) return;
  throw refusal(`${path} reaches ${reached}, which is (or is under) ${reason}: refusing to write there through an alias (a symlink or a mount)`);
}

/** Throws unless `directory` (as `info` says, from its descriptor) is one ageboot may write under. */
function requireTrusted(directory: HeldDirectory, info: Stats, trustedOwners: TrustedOwners): void {
  const mode = (info.mode & 0o7777).toString(8);
  if (trustedOwners !== ANY_OWNER && !trustedOwners.uids.has(info.uid)) {
    throw refusal(`${directory.path} belongs to uid ${info.uid}, which is neither root nor the secret's owner; refusing to write under it`);
  }
  if ((info.mode & 0o002) !== 0 && (info.mode & STICKY) === 0) {
    throw refusal(`${directory.path} is writable by every user and not sticky (mode ${mode}); refusing to write under it`);
  }
  if (trustedOwners !== ANY_OWNER && (info.mode & 0o020) !== 0 && (info.mode & STICKY) === 0 && !trustedOwners.gids.has(info.gid)) {
    throw refusal(
      `${directory.path} is writable by group ${info.gid} (mode ${mode}; or through an ACL, whose mask shows there), which is not a group the secret is given to; its members could replace what ageboot installs there. Refusing to write under it: remove the group's write permission (chmod g-w; setfacl -b) or make it sticky`,
    );
  }
}

function openDirectory(path: string, shownAs: string): number {
  try {
    return openSync(path, OPEN_DIRECTORY);
  } catch (error) {
    throw refusal(`${shownAs}: cannot open (${describeCause(error)})`);
  }
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

function refusal(message: string): AgebootError {
  return new AgebootError("PLAN", message);
}

/** The last component of a custom path: the name ageboot replaces inside the held directory. */
export function finalName(path: string): string {
  return basename(path);
}
