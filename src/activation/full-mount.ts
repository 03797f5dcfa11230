import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describeSecretsMount, secretsMountKindAt } from "./mount.js";
import type { Outcome } from "./outcome.js";

/** Entries looked at when explaining a full mount: far above any real set of generations, and a bound on the time it takes. */
const MAX_ENTRIES_SCANNED = 100_000;
/** Files named as the largest. */
const LARGEST_NAMED = 3;

/** Whether a write of this run failed because the secrets mount is full (./write-exclusive.ts names ENOSPC so). */
export function mountWasFull(outcomes: readonly Outcome[]): boolean {
  return outcomes.some((outcome) => outcome.failed?.message.includes("(ENOSPC)") ?? false);
}

/**
 * Why the secrets mount is full, for the log: its size limit and its largest
 * files with their owners. A secret's owner can write to their own file (they
 * own it, so they can chmod it writable), and on a tmpfs that fills the mount
 * for everyone: no secret can be staged until what they added is gone. This
 * names the file, so the run says why rather than only that it failed. Reads
 * only sizes and owners (lstat, never following a link), never content.
 */
export function explainFullMount(mountPoint: string): string {
  const kind = secretsMountKindAt(mountPoint);
  const files: { path: string; size: number; uid: number }[] = [];
  let scanned = 0;
  const visit = (relative: string, depth: number): void => {
    let names: string[];
    try {
      names = readdirSync(join(mountPoint, relative));
    } catch {
      return;
    }
    for (const name of names) {
      if (++scanned > MAX_ENTRIES_SCANNED) return;
      const path = relative === "" ? name : `${relative}/${name}`;
      let info: ReturnType<typeof lstatSync>;
      try {
        info = lstatSync(join(mountPoint, path));
      } catch {
        continue;
      }
      if (info.isDirectory() && depth < 64) visit(path, depth + 1);
      else if (info.isFile()) files.push({ path, size: info.size, uid: info.uid });
    }
  };
  visit("", 0);
  const largest = files
    .sort((a, b) => b.size - a.size)
    .slice(0, LARGEST_NAMED)
    .map((file) => `${file.path} (${mebibytes(file.size)}, owner uid ${file.uid})`);
  const what = kind ? `the ${describeSecretsMount(kind)}` : "the mount";
  return (
    `${mountPoint}: ${what} is full, so this run could not stage every secret; its largest files: ${largest.join(", ") || "(none)"}. ` +
    "A secret's owner can write to their own file: a file far larger than its secret was grown by its owner. Empty it (truncate -s 0) or make room " +
    `(mount -o remount,size=... ${mountPoint}), then run again`
  );
}

function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
