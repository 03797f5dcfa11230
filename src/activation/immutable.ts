import { execFileSync } from "node:child_process";
import { lstatSync, readdirSync } from "node:fs";
import { describeCause } from "../errors.js";
import type { Logger } from "../log.js";

/**
 * The immutable flag (FS_IMMUTABLE_FL, `chattr +i`) on every file of a
 * generation. A secret's owner owns their file's inode, so without it they can
 * `chmod u+w` it and then grow it, set user.* xattrs on it until the tmpfs's
 * inode space is gone (Linux 6.6+ charges xattrs to nr_inodes x 1 KiB), or keep
 * a descriptor open for writing past pruning and fill the mount through a file
 * with no name. An immutable file cannot be opened for writing, chmod'ed,
 * chown'ed, linked, renamed, removed or given xattrs, by anyone without
 * CAP_LINUX_IMMUTABLE (docs/security.md, "Memory on the secrets mount").
 *
 * The flag does not close a descriptor opened for writing before it was set
 * (tried on Linux 6.18: write(2) and ftruncate(2) still succeed), so a
 * generation stays 0700 until its files are immutable (Generations.seal).
 * Node has no ioctl(2): e2fsprogs' chattr(1) sets it, once per run, with every
 * path in as few argument lists as fit.
 */
export class Immutability {
  private constructor(
    /** Null: files are made immutable; else why not (said once, by warnIfUnavailable). */
    readonly unavailable: string | null,
    private readonly quiet: boolean,
  ) {}

  /** tmpfs takes the flag since Linux 6.0 (noswap needs 6.4); ramfs never. Only root may set it. */
  static forMount(fstype: string | null, runningAsRoot: boolean): Immutability {
    if (!runningAsRoot) return new Immutability("not running as root (CAP_LINUX_IMMUTABLE)", true);
    if (fstype === null) return new Immutability("not a memory-backed mount (--insecure-plain-directory)", true);
    if (fstype !== "tmpfs") return new Immutability(`a ${fstype} has no immutable flag`, false);
    return new Immutability(null, false);
  }

  static none(reason: string): Immutability {
    return new Immutability(reason, true);
  }

  private warned = false;
  private failure: string | null = null;

  /** Set the flag on `files` (regular files ageboot made); a failure is said once per run and the run goes on. */
  set(files: readonly string[], log: Logger): void {
    if (this.unavailable !== null || this.failure !== null) {
      this.warnIfUnavailable(log);
      return;
    }
    try {
      runChattr("+i", files);
    } catch (error) {
      this.failure = describeChattrFailure(error);
      this.warnIfUnavailable(log);
    }
  }

  /**
   * Clear the flag on `files` before ageboot changes or removes them. Quiet on
   * failure: a file still immutable then fails the removal with EPERM, which is
   * what gets reported.
   */
  clear(files: readonly string[]): void {
    if (this.unavailable !== null) return;
    try {
      runChattr("-i", files);
    } catch {
      // see above
    }
  }

  private warnIfUnavailable(log: Logger): void {
    const reason = this.unavailable ?? this.failure;
    if (reason === null || this.warned || this.quiet) return;
    this.warned = true;
    log.warn(
      `secrets are not made immutable (${reason}): a secret's owner can make their file writable and fill the secrets mount; use a tmpfs (Linux 6.4+, noswap) and e2fsprogs' chattr (docs/security.md, "Memory on the secrets mount")`,
    );
  }
}

/** Paths per chattr or lsattr argument list: far below ARG_MAX for any path ageboot makes. */
const PATHS_PER_CALL = 2000;

/** `files` in argument lists of at most PATHS_PER_CALL paths, for chattr here and lsattr in `ageboot status`. */
export function inArgumentLists(files: readonly string[]): string[][] {
  const lists: string[][] = [];
  for (let start = 0; start < files.length; start += PATHS_PER_CALL) lists.push(files.slice(start, start + PATHS_PER_CALL));
  return lists;
}

function runChattr(flag: "+i" | "-i", files: readonly string[]): void {
  // "--" so that no secret's name is read as an option.
  for (const list of inArgumentLists(files)) execFileSync("chattr", [flag, "--", ...list], { stdio: ["ignore", "ignore", "pipe"] });
}

function describeChattrFailure(error: unknown): string {
  if ((error as NodeJS.ErrnoException).code === "ENOENT") return "chattr (e2fsprogs) is not on PATH";
  const stderr = String((error as { stderr?: unknown }).stderr ?? "").trim();
  return `chattr +i failed: ${stderr.split("\n")[0] || describeCause(error)}`;
}

/**
 * The regular files under `directory`, walked by lstat, never through a
 * symlink (chattr would act on what a link names). Only for a generation: a
 * directory only root can write to, so what is there is what ageboot made.
 */
export function regularFilesIn(directory: string): string[] {
  const files: string[] = [];
  const visit = (path: string, depth: number): void => {
    let names: string[];
    try {
      names = readdirSync(path);
    } catch {
      return;
    }
    for (const name of names) {
      const entry = `${path}/${name}`;
      let info: ReturnType<typeof lstatSync>;
      try {
        info = lstatSync(entry);
      } catch {
        continue;
      }
      if (info.isFile()) files.push(entry);
      else if (info.isDirectory() && depth < 64) visit(entry, depth + 1);
    }
  };
  visit(directory, 0);
  return files;
}
