import { lstatSync, readlinkSync, unlinkSync } from "node:fs";
import { describeCause } from "../errors.js";
import { crashPoint } from "../fault-injection.js";
import type { Logger } from "../log.js";
import type { DeclaredItem } from "../manifest/types.js";
import type { PreparedPath } from "./custom-paths.js";
import { finalName, holdExistingParentDirectory, trustedFor } from "./held-directory.js";

/**
 * What one generation installed outside the mount: the custom paths ageboot
 * made (a symlink to secretsDir/<name>, or a copy owned by `uid`), so that a
 * later run removes those whose secret left the manifest, and only those.
 * `uid` is the secret's owner then: the walk back to the path trusts the same
 * directories as the walk that installed it.
 */
export interface InstalledPath {
  readonly secret: string;
  readonly path: string;
  readonly uid: number;
  /** For a symlink: what it points to. Absent for a copy. */
  readonly target?: string;
}

/** One entry of a record as ageboot writes it (also read by `ageboot status`). */
export function isInstalledPath(value: unknown): value is InstalledPath {
  if (typeof value !== "object" || value === null) return false;
  const entry = value as Record<string, unknown>;
  return (
    typeof entry["secret"] === "string" &&
    typeof entry["path"] === "string" &&
    entry["path"].startsWith("/") &&
    Number.isSafeInteger(entry["uid"]) &&
    (entry["target"] === undefined || typeof entry["target"] === "string")
  );
}

/**
 * What the new generation's record holds: the paths this run installs, the
 * previous record's paths still declared but not installed now (they keep
 * what they held, docs/activation.md), and the previous record's paths no
 * longer declared and still as ageboot left them: they are removed after the
 * swap, and recorded until then, so that a run killed in between leaves them
 * to the next run rather than forgotten.
 */
export function nextRecord(
  previous: readonly InstalledPath[],
  prepared: readonly PreparedPath[],
  declared: readonly DeclaredItem[],
  secretsDir: string,
  log: Logger,
): { record: InstalledPath[]; stale: InstalledPath[] } {
  const record: InstalledPath[] = prepared.map(({ outcome: { declared, fileName, ownership } }) => ({
    // A template's by its file name (rendered/<name>): the messages about removed paths name it so.
    secret: fileName,
    path: declared.path,
    uid: ownership!.uid,
    ...(declared.symlink ? { target: `${secretsDir}/${fileName}` } : {}),
  }));
  const installedNow = new Set(record.map((entry) => entry.path));
  const declaredPaths = new Set(declared.map((secret) => secret.path));
  const stale: InstalledPath[] = [];
  for (const entry of previous) {
    if (installedNow.has(entry.path)) continue;
    if (declaredPaths.has(entry.path)) record.push(entry);
    else {
      const held = stillAsInstalled(entry);
      if (held === null) {
        // Gone, or no longer ageboot's: forgotten.
        leftInPlace(entry, log);
        continue;
      }
      held.close();
      record.push(entry);
      stale.push(entry);
    }
  }
  return { record, stale };
}

/**
 * After the swap: remove each stale path that is still what ageboot put there
 * (a symlink with the recorded target, or a regular file with one link owned
 * by the recorded owner), reached by the same descriptor walk as when it was
 * installed, and never creating anything on the way. Anything else is left.
 */
export function removeStalePaths(stale: readonly InstalledPath[], log: Logger): void {
  for (const entry of stale) {
    const held = stillAsInstalled(entry);
    if (held === null) {
      leftInPlace(entry, log);
      continue;
    }
    try {
      unlinkSync(held.entry(finalName(entry.path)));
      crashPoint("remove stale custom path");
      log.info(`secret ${entry.secret} was removed from the manifest; removed its ${entry.target === undefined ? "copy" : "symlink"} ${entry.path}`);
    } catch (error) {
      log.warn(`secret ${entry.secret} was removed from the manifest; cannot remove ${entry.path} (${held.explain(describeCause(error))})`);
    } finally {
      held.close();
    }
  }
}

function leftInPlace(entry: InstalledPath, log: Logger): void {
  log.info(`secret ${entry.secret} was removed from the manifest; ${entry.path} is gone or no longer what ageboot installed there, left in place`);
}

/** The directory of `entry.path`, held, when what is at the path is still what ageboot installed; otherwise null. */
function stillAsInstalled(entry: InstalledPath): ReturnType<typeof holdExistingParentDirectory> {
  let held: ReturnType<typeof holdExistingParentDirectory>;
  try {
    // Its group is not recorded: only root's group may write the directory (otherwise the path is left in place).
    held = holdExistingParentDirectory(entry.path, trustedFor(entry.uid, []));
  } catch {
    return null; // a directory on the way is no longer one ageboot would write under
  }
  if (held === null) return null;
  const name = held.entry(finalName(entry.path));
  try {
    const info = lstatSync(name);
    const ours = entry.target === undefined ? info.isFile() && info.nlink === 1 && info.uid === entry.uid : info.isSymbolicLink() && readlinkSync(name) === entry.target;
    if (ours) return held;
  } catch {
    // gone
  }
  held.close();
  return null;
}
