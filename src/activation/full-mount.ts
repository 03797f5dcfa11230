import { closeSync, constants, type Dir, lstatSync, openSync, opendirSync, statfsSync } from "node:fs";
import { describeSecretsMount, secretsMountKindAt } from "./mount.js";
import type { Outcome } from "./outcome.js";

/** Entries looked at when explaining a full mount: far above any real set of generations, and a bound on the time and memory it takes. */
const MAX_ENTRIES_SCANNED = 100_000;
/** Files named as the largest. */
const LARGEST_NAMED = 3;
/** Used space the named files leave unexplained beyond this (tmpfs rounds to pages, directories take some) is said to be held elsewhere. */
const UNEXPLAINED_SLACK = 1024 * 1024;

/** Error codes that mean "no room on the secrets mount": blocks or inodes (ENOSPC), or a quota (EDQUOT). */
export function isFullMountErrno(errno: string | undefined): boolean {
  return errno === "ENOSPC" || errno === "EDQUOT";
}

/** Whether a mkdir, open or write of this run failed because the secrets mount is full: by error code, never by message. */
export function mountWasFull(outcomes: readonly Outcome[]): boolean {
  return outcomes.some((outcome) => isFullMountErrno(outcome.failed?.errno));
}

/**
 * Why the secrets mount is full, for the log: its size limit, its free
 * inodes, its largest files with their owners, and, when those do not account
 * for what is used, that deleted files still held open (by any process) or
 * something other than file data hold the rest. Secret files are immutable
 * (./immutable.ts), so an owner can no longer grow theirs; whatever fills the
 * mount now is root's doing or a mount where the flag is unavailable. Reads
 * only sizes and owners, walking with lstat and never through a symlink,
 * streaming each directory (opendir) up to MAX_ENTRIES_SCANNED entries in all.
 */
export function explainFullMount(mountPoint: string): string {
  const kind = secretsMountKindAt(mountPoint);
  const files: { path: string; size: number; uid: number }[] = [];
  let scanned = 0;
  let scannedBytes = 0;
  // Each directory is opened O_NOFOLLOW relative to its parent's descriptor (through
  // /proc/self/fd), so a directory swapped for a symlink mid-walk is never followed.
  const visit = (parentFd: number | null, name: string, relative: string, depth: number): void => {
    let fd: number;
    try {
      fd = openSync(parentFd === null ? mountPoint : `/proc/self/fd/${parentFd}/${name}`, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    } catch {
      return;
    }
    let directory: Dir | null = null;
    try {
      directory = opendirSync(`/proc/self/fd/${fd}`);
      for (let entry = directory.readSync(); entry !== null; entry = directory.readSync()) {
        if (++scanned > MAX_ENTRIES_SCANNED) return;
        const path = relative === "" ? entry.name : `${relative}/${entry.name}`;
        let info: ReturnType<typeof lstatSync>;
        try {
          info = lstatSync(`/proc/self/fd/${fd}/${entry.name}`);
        } catch {
          continue;
        }
        // lstat: a symlink is never descended into.
        if (info.isDirectory() && depth < 64) visit(fd, entry.name, path, depth + 1);
        else if (info.isFile()) {
          scannedBytes += info.size;
          // Only the largest few are kept: memory stays bounded whatever the count.
          files.push({ path, size: info.size, uid: info.uid });
          if (files.length > LARGEST_NAMED * 4) files.sort((a, b) => b.size - a.size).splice(LARGEST_NAMED);
        }
      }
    } catch {
      // unreadable: what was found so far is named
    } finally {
      directory?.closeSync();
      closeSync(fd);
    }
  };
  visit(null, "", "", 0);
  const largest = files
    .sort((a, b) => b.size - a.size)
    .slice(0, LARGEST_NAMED)
    .map((file) => `${file.path} (${mebibytes(file.size)}, owner uid ${file.uid})`);
  const what = kind ? `the ${describeSecretsMount(kind)}` : "the mount";
  let usage = "";
  let unexplained = "";
  try {
    const stats = statfsSync(mountPoint);
    const usedBytes = (stats.blocks - stats.bfree) * stats.bsize;
    usage = ` (${mebibytes(usedBytes)} used, ${mebibytes(stats.bavail * stats.bsize)} free, inodes free: ${stats.ffree} of ${stats.files})`;
    if (scanned <= MAX_ENTRIES_SCANNED && usedBytes > scannedBytes + UNEXPLAINED_SLACK) {
      unexplained =
        ` The files found hold only ${mebibytes(scannedBytes)}: the other ${mebibytes(usedBytes - scannedBytes)} is held by files that were deleted but are still open ` +
        `(find them with: find /proc/[0-9]*/fd -lname '${mountPoint}/*(deleted)'), or by extended attributes.`;
    }
  } catch {
    // no figures: the names still help
  }
  return (
    `${mountPoint}: ${what} is full${usage}, so this run could not stage every secret; its largest files: ${largest.join(", ") || "(none)"}.${unexplained} ` +
    `Remove what fills it or make room (mount -o remount,size=... ${mountPoint}), then run again`
  );
}

function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
