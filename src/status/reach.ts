import { closeSync, constants, fstatSync, lstatSync, opendirSync, openSync, readlinkSync, type Stats } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { HeldDirectory } from "../activation/held-directory.js";
import { describeCause } from "../errors.js";

/**
 * Reading a host's state without trusting its paths: `ageboot status` looks at
 * custom paths in users' directories and at what users may have swapped, so,
 * like activation (../activation/held-directory.ts), it never checks a path and
 * then uses it by name. The difference is that it only reads: directories are
 * held with O_PATH, which needs no read permission on them (a user who may
 * pass through /run/agenix.d, mode 0751, may hold it without listing it), and
 * a file is opened for reading only after the descriptor it was reached by
 * says it is a regular file (never a FIFO, a device or a symlink).
 */

/** O_PATH from <fcntl.h>: Node's constants lack it. The same value on every architecture Node supports on Linux. */
export const O_PATH = 0o10000000;
const HOLD_DIRECTORY = O_PATH | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const HOLD_ENTRY = O_PATH | constants.O_NOFOLLOW;
/** Reopening an O_PATH descriptor through /proc reaches that very inode; O_NONBLOCK for certainty. */
const REOPEN_FOR_READING = constants.O_RDONLY | constants.O_NONBLOCK;
/** As the kernel's own limit on symlinks in one lookup. */
const MAX_SYMLINKS = 40;
/** A component that keeps changing under us between two looks is a race we decline to play. */
const MAX_RETRIES = 20;

/**
 * Why something could not be reached: it is not there (`missing`), the user
 * running status may not look (`denied`), or it is not what ageboot would
 * have made and status will not go through it (`refused`).
 */
export interface Blocked {
  readonly blocked: "missing" | "denied" | "refused";
  readonly reason: string;
}

export function isBlocked(value: unknown): value is Blocked {
  return typeof value === "object" && value !== null && "blocked" in value;
}

function blocked(kind: Blocked["blocked"], reason: string): Blocked {
  return { blocked: kind, reason };
}

/** How an errno reads as a Blocked, for `shownAs`. */
function blockedBy(error: unknown, shownAs: string, held?: HeldDirectory): Blocked {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return blocked("missing", `${shownAs} does not exist`);
  if (code === "EACCES" || code === "EPERM") return blocked("denied", `${shownAs}: permission denied`);
  const cause = describeCause(error);
  return blocked("refused", `${shownAs}: cannot be read (${held ? held.explain(cause) : cause})`);
}

/**
 * Hold the directory at `path`, reached from "/" one component at a time,
 * each held relative to its parent's descriptor and never through a symlink,
 * except one in a directory that root alone can write to (then root made it:
 * /var/run -> /run, /etc/ssh -> /persist/etc/ssh), the rule activation uses.
 */
export function reachDirectory(path: string): HeldDirectory | Blocked {
  let remaining = components(resolve(path));
  let held = holdRoot();
  let symlinks = 0;
  try {
    while (remaining.length > 0) {
      const name = remaining.shift()!;
      const step = descend(held, name, `${held.path === "/" ? "" : held.path}/${name}`);
      if (isBlocked(step)) {
        held.close();
        return step;
      }
      held.close();
      if (step instanceof HeldDirectory) {
        held = step;
        continue;
      }
      if (++symlinks > MAX_SYMLINKS) return blocked("refused", `${path}: too many symlinks`);
      remaining = [...components(resolve(held.path, step.symlinkTarget)), ...remaining];
      held = holdRoot();
    }
    return held;
  } catch (error) {
    held.close();
    throw error;
  }
}

/** Hold the directory that contains `path` (whose last component is not followed), and that last component's name. */
export function reachParent(path: string): { parent: HeldDirectory | Blocked; name: string } {
  const absolute = resolve(path);
  return { parent: reachDirectory(dirname(absolute)), name: basename(absolute) };
}

/** One component down: the child held, the target of a symlink root alone can have made, or why not. */
function descend(parent: HeldDirectory, name: string, shownAs: string): HeldDirectory | Blocked | { symlinkTarget: string } {
  for (let attempt = 0; attempt < MAX_RETRIES; attempt++) {
    const child = holdDirectoryIn(parent, name, shownAs);
    if (!isBlocked(child) || child.blocked !== "refused" || !child.reason.endsWith(NOT_A_DIRECTORY)) return child;
    const info = lstatIn(parent, name, shownAs);
    if (isBlocked(info)) return info;
    if (info.isDirectory()) continue; // changed under us: look again
    if (!info.isSymbolicLink()) return child;
    const holder = fstatSync(parent.fd);
    if (holder.uid !== 0 || (holder.mode & 0o022) !== 0) {
      return blocked("refused", `${shownAs} is a symlink in ${parent.path}, which a user other than root can write to; not followed`);
    }
    try {
      return { symlinkTarget: readlinkSync(parent.entry(name)) };
    } catch (error) {
      return blockedBy(error, shownAs, parent);
    }
  }
  return blocked("refused", `${shownAs} kept changing while it was being read`);
}

const NOT_A_DIRECTORY = " is not a directory";

/** Hold `name` inside `parent` as a directory; a symlink there is not followed (refused, as not a directory). */
export function holdDirectoryIn(parent: HeldDirectory, name: string, shownAs = `${parent.path}/${name}`): HeldDirectory | Blocked {
  try {
    return new HeldDirectory(shownAs, openSync(parent.entry(name), HOLD_DIRECTORY));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOTDIR" || code === "ELOOP") return blocked("refused", `${shownAs}${NOT_A_DIRECTORY}`);
    return blockedBy(error, shownAs, parent);
  }
}

/** What is at `name` inside `parent`, not following a symlink. */
export function lstatIn(parent: HeldDirectory, name: string, shownAs = `${parent.path}/${name}`): Stats | Blocked {
  try {
    return lstatSync(parent.entry(name));
  } catch (error) {
    return blockedBy(error, shownAs, parent);
  }
}

/** The target of the symlink `name` inside `parent`. */
export function readlinkIn(parent: HeldDirectory, name: string, shownAs = `${parent.path}/${name}`): string | Blocked {
  try {
    return readlinkSync(parent.entry(name));
  } catch (error) {
    return blockedBy(error, shownAs, parent);
  }
}

/** A file open for reading, and what its descriptor said it is. The caller closes `fd`. */
export interface OpenFile {
  readonly fd: number;
  readonly info: Stats;
}

/**
 * Open `name` inside `parent` for reading, only if it is a regular file: held
 * first with O_PATH|O_NOFOLLOW (which opens nothing: no FIFO waits, no device
 * acts), checked on that descriptor, then reopened through it, which reaches
 * the same inode whatever happened to the name since.
 */
export function openRegularFileIn(parent: HeldDirectory, name: string, shownAs = `${parent.path}/${name}`): OpenFile | Blocked {
  let holder: number;
  try {
    holder = openSync(parent.entry(name), HOLD_ENTRY);
  } catch (error) {
    return blockedBy(error, shownAs, parent);
  }
  try {
    const info = fstatSync(holder);
    if (!info.isFile()) return blocked("refused", `${shownAs} is ${describeType(info)}, not a regular file`);
    try {
      return { fd: openSync(`/proc/self/fd/${holder}`, REOPEN_FOR_READING), info };
    } catch (error) {
      return blockedBy(error, shownAs);
    }
  } finally {
    closeSync(holder);
  }
}

/** The names in a held directory, at most `limit` of them (the rest are not read at all). */
export function listNames(directory: HeldDirectory, limit: number): { names: string[]; complete: boolean } | Blocked {
  let dir: ReturnType<typeof opendirSync>;
  try {
    dir = opendirSync(directory.self);
  } catch (error) {
    return blockedBy(error, directory.path, directory);
  }
  const names: string[] = [];
  try {
    for (let entry = dir.readSync(); entry !== null; entry = dir.readSync()) {
      if (names.length === limit) return { names, complete: false };
      names.push(entry.name);
    }
    return { names, complete: true };
  } finally {
    dir.closeSync();
  }
}

/** "a symlink", "a directory", ...: what an entry is, for people. */
export function describeType(info: Stats): string {
  if (info.isFile()) return info.nlink > 1 ? `a regular file with ${info.nlink} links` : "a regular file";
  if (info.isSymbolicLink()) return "a symlink";
  if (info.isDirectory()) return "a directory";
  if (info.isFIFO()) return "a FIFO";
  if (info.isSocket()) return "a socket";
  if (info.isBlockDevice() || info.isCharacterDevice()) return "a device";
  return "something else";
}

function holdRoot(): HeldDirectory {
  return new HeldDirectory("/", openSync("/", HOLD_DIRECTORY));
}

function components(path: string): string[] {
  return path.split("/").filter((part) => part !== "" && part !== ".");
}
