import { chmodSync, lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync, type Stats, unlinkSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { AgebootError, describeCause } from "../errors.js";
import { KEEP_ALL_GENERATIONS, type KeepGenerations } from "../manifest/types.js";
import { crashPoint } from "../fault-injection.js";
import type { Logger } from "../log.js";
import { explainFullMount, isFullMountErrno } from "./full-mount.js";
import { generationNumber } from "./generation-name.js";
import { recordedGenerations, recordPath } from "./generation-record.js";
import { Immutability, regularFilesIn } from "./immutable.js";
import { setDirectoryAccess } from "./mount.js";
import { replaceSymlink } from "./swap.js";

export { GENERATION_NAME, generationNumber } from "./generation-name.js";

/** How many numbers taken by untrusted entries a new generation's number skips before the run gives up. */
const MAX_SKIPPED_NUMBERS = 1000;

/** The name, inside the mount point, of the relative link to the current generation (docs/containers.md). */
export const CURRENT_LINK = "current";

/**
 * The generations on the mount point and which one users see: the layout
 * `<mountPoint>/<N>/` for each generation, `<mountPoint>/current -> N` for
 * containers, and `secretsDir -> <mountPoint>/N` for the host. Read once per
 * run, under the lock; every change to the layout goes through this object.
 */
export class Generations {
  private constructor(
    readonly mountPoint: string,
    readonly secretsDir: string,
    /** Generation numbers present, ascending. */
    readonly existing: readonly number[],
    /** The generation `secretsDir` points at; null when there is none yet (first run after boot). */
    readonly current: number | null,
    /** Generations a link still names: never removed as leftovers. */
    private readonly linked: ReadonlySet<number>,
    /** Whether files are made immutable (./immutable.ts), and so must be made mutable before removal. */
    private readonly immutability: Immutability,
  ) {}

  /**
   * `log`, when given, is told of every entry in the mount root that is not
   * ageboot's (untrustedEntry): such entries are never used.
   */
  static read(mountPoint: string, secretsDir: string, immutability: Immutability = Immutability.none("not asked for"), log?: Logger): Generations {
    const existing = listGenerations(mountPoint, log);
    const current = currentGeneration(secretsDir, mountPoint, existing);
    const containerLink = existingGeneration(readLink(`${mountPoint}/${CURRENT_LINK}`), existing);
    const linked = new Set([current, containerLink].filter((generation): generation is number => generation !== null));
    return new Generations(mountPoint, secretsDir, existing, current, linked, immutability);
  }

  /**
   * The number a new generation gets: one above every trusted generation
   * present, finished or not, skipping a number an untrusted entry holds (a
   * user's directory planted while the mount root was 1777: never ours, and
   * never a reason to fail the run; reatk N5). Once the root is ageboot's 0751,
   * nobody else can add an entry, so the number found stays free. Never wraps:
   * a trusted generation numbered 2^53 - 1 is not one that counting from 1
   * reaches (a run a millisecond for 285,000 years), so it was made by hand;
   * removing it is a decision for whoever made it, and numbering below it would
   * break "the highest is the newest".
   */
  get next(): number {
    const highest = this.existing.at(-1) ?? 0;
    let candidate = highest + 1;
    for (let attempt = 0; attempt < MAX_SKIPPED_NUMBERS && candidate <= Number.MAX_SAFE_INTEGER; attempt++, candidate++) {
      if (!entryExists(this.path(candidate))) return candidate;
    }
    throw new AgebootError(
      "SETUP",
      highest >= Number.MAX_SAFE_INTEGER - MAX_SKIPPED_NUMBERS
        ? `${this.path(highest)}: generation ${highest} is the highest number ageboot can count to, so no generation can follow it; remove that directory if it is still there (counting from 1 does not reach it) and run again`
        : `${this.mountPoint}: the ${MAX_SKIPPED_NUMBERS} numbers after generation ${highest} are all taken by entries that are not ageboot's; remove them and run again`,
    );
  }

  path(generation: number): string {
    return `${this.mountPoint}/${generation}`;
  }

  /** The directory of the current generation, or null. */
  get currentPath(): string | null {
    return this.current === null ? null : this.path(this.current);
  }

  /**
   * Remove generations that were never completed (numbered above the current one:
   * left by a run that crashed or failed), or, with no current generation, all of
   * them; never one that a link still names (a run killed between updating the
   * two links leaves `current` one generation ahead of `secretsDir`).
   */
  removeLeftovers(): number[] {
    const leftovers = this.existing.filter((generation) => (this.current === null || generation > this.current) && !this.linked.has(generation));
    this.remove(leftovers, "remove leftover generation");
    // A record whose generation is gone (a run killed between removing the two).
    const remaining = new Set(this.existing.filter((generation) => !leftovers.includes(generation)));
    for (const generation of recordedGenerations(this.mountPoint)) if (!remaining.has(generation)) this.removeRecord(generation);
    return leftovers;
  }

  /**
   * Make the directory of a new generation: 0700, root's alone, until seal()
   * has made its files immutable. Files are given to their owners while staged,
   * and an owner who could reach their file before it is immutable could open
   * it for writing and keep that descriptor (the flag does not revoke it).
   */
  create(generation: number): string {
    const directory = this.path(generation);
    try {
      mkdirSync(directory, { mode: 0o700 });
    } catch (error) {
      if (isFullMountErrno((error as NodeJS.ErrnoException).code)) {
        throw new AgebootError("IO", `${directory}: cannot create generation ${generation}: ${explainFullMount(this.mountPoint)}`, { cause: error });
      }
      throw error;
    }
    crashPoint("mkdir generation");
    return directory;
  }

  /**
   * After staging and rendering, before the swap: every file of the
   * generation immutable, then the directory given the mount point's access
   * (0751, group keys), so that its owners reach their files only once they
   * can no longer be written, chmod'ed, linked or given xattrs.
   */
  seal(generation: number, keysGid: number | null, log: Logger): void {
    const directory = this.path(generation);
    this.immutability.set(regularFilesIn(directory), log);
    crashPoint("immutable generation");
    setDirectoryAccess(directory, keysGid);
  }

  /**
   * The current generation sealed again if a run was killed while it was
   * closed (0700: `ageboot chown` between closing and reopening it, which may
   * have left files mutable). An open one is sealed already: nothing opens a
   * generation before its files are immutable. Returns whether it resealed.
   */
  resealCurrentIfClosed(keysGid: number | null, log: Logger): boolean {
    if (this.current === null) return false;
    let mode: number;
    try {
      mode = lstatSync(this.path(this.current)).mode & 0o7777;
    } catch {
      return false;
    }
    if (mode === 0o751) return false;
    log.warn(`${this.path(this.current)}: current generation left closed (mode ${mode.toString(8)}) by a run that did not finish; sealed and opened again`);
    this.seal(this.current, keysGid, log);
    return true;
  }

  /** A generation that will never be current: removed with what it holds. */
  discard(generation: number): void {
    this.removeDirectory(generation);
    crashPoint("discard failed generation");
    this.removeRecord(generation);
  }

  /**
   * A generation's directory and what it holds, immutable files made mutable
   * first. Closed (0700) before that: between clearing the flag and removing
   * the file its owner could otherwise open it for writing, and keep filling
   * the mount through that descriptor once the file has no name.
   */
  private removeDirectory(generation: number): void {
    const directory = this.path(generation);
    try {
      chmodSync(directory, 0o700);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    crashPoint("close generation");
    this.immutability.clear(regularFilesIn(directory));
    crashPoint("clear immutable");
    rmSync(directory, { recursive: true, force: true });
  }

  /**
   * Make `generation` current: first `<mountPoint>/current -> <generation>`, a
   * relative link inside the mount, which is what containers bind and read
   * through (it resolves the same wherever the mount is bound), then `secretsDir`,
   * the absolute link the host's services read through. Each is one rename.
   */
  makeCurrent(generation: number): void {
    const containerLink = `${this.mountPoint}/${CURRENT_LINK}`;
    try {
      replaceSymlink(containerLink, String(generation));
    } catch (error) {
      throw linkFailure(containerLink, generation, error);
    }
    try {
      replaceSymlink(this.secretsDir, this.path(generation));
    } catch (error) {
      this.restoreContainerLink();
      throw linkFailure(this.secretsDir, generation, error);
    }
  }

  /**
   * After secretsDir could not be swapped: `current` back to the generation
   * secretsDir still names, or removed when it names none (first boot), so both
   * links agree again. If even that fails, `current` stays on the new generation,
   * which is complete; discardUnlessLinked then keeps it, and the next run's
   * swap puts the links right (the state a kill between the two swaps leaves).
   */
  private restoreContainerLink(): void {
    const containerLink = `${this.mountPoint}/${CURRENT_LINK}`;
    try {
      if (this.current === null) {
        unlinkSync(containerLink);
        crashPoint("remove container link");
      } else {
        replaceSymlink(containerLink, String(this.current));
      }
    } catch {
      // see above: a complete generation stays linked
    }
  }

  /** A generation that could not be made current: discarded, unless `current` still names it (restoreContainerLink says when). */
  discardUnlessLinked(generation: number): void {
    if (readLink(`${this.mountPoint}/${CURRENT_LINK}`) === String(generation)) return;
    this.discard(generation);
  }

  /**
   * Keep `current` and `keep` generations before it ("all": every one, sops-nix's
   * `keepGenerations = 0`); remove the rest. Returns what was removed.
   */
  prune(current: number, keep: KeepGenerations): number[] {
    if (keep === KEEP_ALL_GENERATIONS) return [];
    const existing = listGenerations(this.mountPoint);
    const previous = existing.filter((generation) => generation < current);
    const kept = new Set([current, ...previous.slice(Math.max(0, previous.length - keep))]);
    const removed = existing.filter((generation) => !kept.has(generation));
    this.remove(removed, "prune generation");
    return removed;
  }

  /** One at a time, so that a crash test can kill between any two removals. */
  private remove(generations: readonly number[], step: string): void {
    for (const generation of generations) {
      this.removeDirectory(generation);
      crashPoint(step);
      this.removeRecord(generation);
    }
  }

  /** The record of what a generation did outside the mount (./generation-record.ts) goes with it. */
  private removeRecord(generation: number): void {
    try {
      unlinkSync(recordPath(this.mountPoint, generation));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    crashPoint("remove custom paths record");
  }
}

/** Why `link` could not be pointed at `generation`, with a full file system said plainly. */
function linkFailure(link: string, generation: number, error: unknown): AgebootError {
  const why = (error as NodeJS.ErrnoException).code === "ENOSPC" ? "its file system is full (ENOSPC)" : describeCause(error);
  return new AgebootError("IO", `${link}: cannot point it at generation ${generation}: ${why}`, { cause: error });
}

/**
 * Generation numbers present in the mount point, ascending: only directories
 * of ageboot's user (root) that no one else can write to. A mount someone
 * else made without mode= is 1777 until ageboot chmods it, and a user may
 * have made a directory "1" in it, with content of their choosing: never a
 * generation (Generations.next skips its number).
 */
function listGenerations(mountPoint: string, log?: Logger): number[] {
  let names: string[];
  try {
    names = readdirSync(mountPoint);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const trusted: number[] = [];
  for (const name of names) {
    const problem = untrustedEntry(`${mountPoint}/${name}`);
    if (problem !== null) log?.warn(`${mountPoint}/${name}: ${problem}; not ageboot's, never used: remove it`);
    const generation = generationNumber(name);
    if (generation !== null && problem === null) trusted.push(generation);
  }
  return trusted.sort((a, b) => a - b);
}

/** Whether anything (file, directory, link, whoever's) has this name. */
function entryExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ENOENT";
  }
}

/** Why an entry of the mount root is not ageboot's (another user's, or writable by others), or null. */
export function untrustedEntry(path: string): string | null {
  let info: Stats;
  try {
    info = lstatSync(path);
  } catch {
    return null; // gone meanwhile: nothing to use
  }
  const us = process.geteuid?.() ?? 0;
  if (info.uid !== us) return `owned by uid ${info.uid}`;
  if (!info.isSymbolicLink() && (info.mode & 0o022) !== 0) return `writable by group or others (mode ${(info.mode & 0o7777).toString(8)})`;
  return null;
}

/**
 * The generation `secretsDir` points at, or null when there is none yet (first
 * run after boot, or a link to something that is not one of our generations).
 * A real directory or file at `secretsDir` is an error: ageboot would have to
 * delete it to install the link (agenix#291), and it does not delete what it did not make.
 */
function currentGeneration(secretsDir: string, mountPoint: string, existing: readonly number[]): number | null {
  let info: Stats;
  try {
    info = lstatSync(secretsDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  if (!info.isSymbolicLink()) {
    const what = info.isDirectory() ? "a real directory" : "a file that is not a symlink";
    throw new AgebootError("SETUP", `${secretsDir} is ${what}; it must be a symlink that ageboot manages. Move it away (agenix#291) and run again`);
  }
  const target = resolve(dirname(secretsDir), readlinkSync(secretsDir));
  return dirname(target) === mountPoint ? existingGeneration(target.slice(mountPoint.length + 1), existing) : null;
}

/** The generation a link target names, if it is one that exists. */
function existingGeneration(name: string | null, existing: readonly number[]): number | null {
  const generation = name === null ? null : generationNumber(name);
  return generation !== null && existing.includes(generation) ? generation : null;
}

function readLink(path: string): string | null {
  try {
    return readlinkSync(path);
  } catch {
    return null;
  }
}
