import { closeSync, constants, existsSync, fstatSync, lstatSync, openSync, readlinkSync, type Stats } from "node:fs";
import { dirname, join } from "node:path";
import { AgebootError, describeCause } from "../errors.js";

/** The sticky bit (S_ISVTX), which Node's constants lack. */
const STICKY_BIT = 0o1000;
/** As the kernel allows (MAXSYMLINKS): more is a loop. */
const MAX_SYMLINKS = 40;
const DIRECTORY_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
/** O_NONBLOCK: whatever the file became, opening it never waits (a FIFO would, with no writer, forever). */
const FILE_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW;

/**
 * Open a secret's ciphertext `file` for activation, and only if no user
 * other than root (or the user ageboot runs as) could have chosen what it
 * holds. Otherwise a user who can write the file or a directory on its way
 * puts another secret's ciphertext (world-readable, in the Nix store) under
 * the name of a secret they own, and reads that plaintext as their own.
 *
 * The path is walked one component at a time from descriptors
 * (/proc/self/fd/N/name resolves in the directory N without walking the path
 * again), so what is checked is what is opened. At each step the directory
 * must be writable by root alone, or be sticky and owned by root with the
 * entry owned by root: then nobody else can rename or replace that entry.
 * That is how /nix/store is (root:nixbld 1775, entries root's, read-only).
 * A symbolic link is followed only under those conditions. The file itself
 * must be a regular file (checked on the open descriptor: a FIFO swapped in
 * after planning is refused, not waited on), root's, not writable by group
 * or others.
 *
 * Returns the open descriptor; the caller reads from it and closes it.
 * Throws AgebootError (PLAN) naming the path and what is wrong.
 */
export function openTrustedCiphertext(path: string): number {
  return openTrustedFile(path, "decrypt it");
}

/**
 * The same walk and rule for another file whose content decides what a user
 * may read (a template's text: its placeholders choose which secrets go into
 * a file its owner reads). `refusal` completes "refusing to ...".
 */
export function openTrustedFile(path: string, refusal: string): number {
  const walk = new DescriptorWalk(path, refusal);
  try {
    return walk.openFile();
  } catch (error) {
    if (error instanceof AgebootError) throw error;
    throw new AgebootError("IO", `file ${path}: cannot read (${describeCause(error).replaceAll(/\/proc\/self\/fd\/\d+\//g, "")})`, { cause: error });
  } finally {
    walk.close();
  }
}

/** Root, or the user ageboot runs as (a user running it for their own secrets trusts their own files). */
function trustedOwner(uid: number): boolean {
  return uid === 0 || uid === process.geteuid?.();
}

/** Only a trusted owner can add, remove or rename entries. */
function closedDirectory(info: Stats): boolean {
  return trustedOwner(info.uid) && (info.mode & 0o022) === 0;
}

/** Others may add entries, but only the entry's owner (or the directory's, or root) may remove or rename one. */
function stickyRootDirectory(info: Stats): boolean {
  return info.uid === 0 && (info.mode & STICKY_BIT) !== 0;
}

class DescriptorWalk {
  private directory: number;
  private directoryInfo: Stats;
  /** The real path of `directory`, for messages. */
  private directoryPath = "/";
  private readonly remaining: string[];
  private symlinks = 0;

  constructor(
    private readonly path: string,
    private readonly refusal: string,
  ) {
    this.remaining = components(path);
    this.directory = openSync("/", DIRECTORY_FLAGS);
    this.directoryInfo = fstatSync(this.directory);
    if (!existsSync(`/proc/self/fd/${this.directory}`)) {
      closeSync(this.directory);
      throw new AgebootError("IO", `file ${path}: cannot be read safely without /proc (ageboot walks paths through /proc/self/fd); mount /proc`);
    }
  }

  openFile(): number {
    if (!closedDirectory(this.directoryInfo)) throw this.refuse("/ is writable by users other than root");
    for (;;) {
      const name = this.remaining.shift();
      if (name === undefined) throw this.refuse("names a directory, not a file");
      if (name === "..") {
        this.enter(openSync(this.pinned(".."), DIRECTORY_FLAGS), dirname(this.directoryPath));
        continue;
      }
      const entry = lstatSync(this.pinned(name));
      if (!closedDirectory(this.directoryInfo) && !(stickyRootDirectory(this.directoryInfo) && trustedOwner(entry.uid))) {
        throw this.refuse(
          `${this.directoryPath} is writable by users other than root, who could put another file at ${join(this.directoryPath, name)}; make the directory root's and not writable by group or others (chown root, chmod go-w), or keep the file in the Nix store`,
        );
      }
      if (entry.isSymbolicLink()) this.follow(name);
      else if (this.remaining.length > 0) this.enterDirectory(name, entry);
      else return this.openLast(name, entry);
    }
  }

  close(): void {
    closeSync(this.directory);
  }

  private pinned(name: string): string {
    return `/proc/self/fd/${this.directory}/${name}`;
  }

  private follow(name: string): void {
    if (++this.symlinks > MAX_SYMLINKS) throw this.refuse("too many levels of symbolic links");
    const target = readlinkSync(this.pinned(name));
    this.remaining.unshift(...components(target));
    if (target.startsWith("/")) this.enter(openSync("/", DIRECTORY_FLAGS), "/");
  }

  private enterDirectory(name: string, entry: Stats): void {
    if (!entry.isDirectory()) throw this.refuse(`${join(this.directoryPath, name)} is not a directory`);
    const next = openSync(this.pinned(name), DIRECTORY_FLAGS);
    this.enter(next, join(this.directoryPath, name));
    if (!sameFile(entry, this.directoryInfo)) throw this.refuse(`${this.directoryPath} changed while it was being checked`);
  }

  private enter(descriptor: number, path: string): void {
    closeSync(this.directory);
    this.directory = descriptor;
    this.directoryInfo = fstatSync(descriptor);
    this.directoryPath = path;
  }

  private openLast(name: string, entry: Stats): number {
    // Not opened unless it is a regular file: opening a device can have effects of its own.
    if (!entry.isFile()) throw this.refuse("not a regular file");
    const descriptor = openSync(this.pinned(name), FILE_FLAGS);
    try {
      const info = fstatSync(descriptor);
      if (!info.isFile() || !sameFile(entry, info)) throw this.refuse("it changed while it was being checked");
      if (!trustedOwner(info.uid) || (info.mode & 0o022) !== 0) {
        throw this.refuse(
          `writable by users other than root (owner uid ${info.uid}, mode ${(info.mode & 0o7777).toString(8).padStart(4, "0")}); make it root's and not writable by group or others (chown root, chmod go-w)`,
        );
      }
      return descriptor;
    } catch (error) {
      closeSync(descriptor);
      throw error;
    }
  }

  private refuse(why: string): AgebootError {
    return new AgebootError("PLAN", `file ${this.path}: ${why}; refusing to ${this.refusal}`);
  }
}

function components(path: string): string[] {
  return path.split("/").filter((part) => part !== "" && part !== ".");
}

function sameFile(a: Stats, b: Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}
