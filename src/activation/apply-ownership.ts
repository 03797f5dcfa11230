import { closeSync, constants, fchmodSync, fchownSync, fstatSync, openSync } from "node:fs";
import { AgebootError, describeCause } from "../errors.js";
import { crashPoint } from "../fault-injection.js";
import type { Logger } from "../log.js";
import type { Manifest, SecretSpec } from "../manifest/types.js";
import { UserDatabase } from "../users.js";
import { Generations } from "./generations.js";
import { finalName, holdExistingParentDirectory } from "./held-directory.js";
import { acquireLock } from "./lock.js";
import type { SecretFailure } from "./outcome.js";
import { hasCustomPath, resolveOwnership } from "./plan.js";
import type { Ownership } from "./write-exclusive.js";

/** Open what ageboot wrote without following a link, and without blocking on a FIFO put in its place. */
const OPEN_OWN_FILE = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export interface OwnershipResult {
  /** Secrets whose files were given their owner, group or mode now. */
  readonly applied: string[];
  readonly failures: SecretFailure[];
}

/**
 * `ageboot chown`: the second half of an activation that ran before the users
 * existed (--defer-unknown-owners). Gives every secret of the current
 * generation, and every `symlink: false` copy, its declared owner, group and
 * mode; files that have them already are left alone. Under the lock, so it
 * never meets a half-made generation.
 */
export async function applyOwnership(manifest: Manifest, log: Logger, lockTimeoutSeconds: number): Promise<OwnershipResult> {
  const releaseLock = await acquireLock(manifest.secretsMountPoint, lockTimeoutSeconds);
  try {
    const generations = Generations.read(manifest.secretsMountPoint, manifest.secretsDir);
    const generationDir = generations.currentPath;
    if (generationDir === null) throw new AgebootError("SETUP", `${manifest.secretsDir}: no current generation; run ageboot activate first`);
    const users = UserDatabase.load();
    const applied: string[] = [];
    const failures: SecretFailure[] = [];
    for (const secret of manifest.secrets) {
      const ownership = await resolveOwnership(secret, users);
      if (typeof ownership === "string") {
        failures.push({ name: secret.name, code: "PLAN", message: `${ownership}; its file stays root:root 0400` });
        continue;
      }
      try {
        let changed = applyTo(`${generationDir}/${secret.name}`, `${generationDir}/${secret.name}`, ownership, secret, log);
        if (hasCustomPath(secret, manifest.secretsDir) && !secret.symlink) changed = applyToCopy(ownership, secret, log) || changed;
        if (changed) applied.push(secret.name);
      } catch (error) {
        failures.push({ name: secret.name, code: error instanceof AgebootError ? error.code : "IO", message: describeCause(error) });
      }
    }
    return { applied, failures };
  } finally {
    releaseLock();
  }
}

/**
 * A `symlink: false` copy lives in a directory its owner may write to: it is
 * reached through the directory held by descriptor, walked with the same checks
 * as when it was written (held-directory.ts), never by its path again.
 */
function applyToCopy(ownership: Ownership, secret: SecretSpec, log: Logger): boolean {
  const held = holdExistingParentDirectory(secret.path, new Set([0, ownership.uid]));
  if (held === null) {
    log.warn(`secret ${secret.name}: ${secret.path} is not installed; no owner to apply`);
    return false;
  }
  try {
    return applyTo(secret.path, held.entry(finalName(secret.path)), ownership, secret, log);
  } finally {
    held.close();
  }
}

/**
 * Give one file its ownership, through a descriptor (`reachedAs`: its path, or
 * a name under a held directory; `path` is what messages say). The mode goes to 0000
 * first, so that at no moment is the file more readable than its final owner,
 * group and mode allow (the new owner or group never sees the 0400 of root's).
 * Returns whether anything changed; a missing file (the secret failed to
 * install) is logged and skipped: the activation has already reported it.
 */
function applyTo(path: string, reachedAs: string, ownership: Ownership, secret: SecretSpec, log: Logger): boolean {
  let fd: number;
  try {
    fd = openSync(reachedAs, OPEN_OWN_FILE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      log.warn(`secret ${secret.name}: ${path} is not installed; no owner to apply`);
      return false;
    }
    throw new AgebootError("IO", `${path}: cannot open (${describeCause(error)})`, { cause: error });
  }
  try {
    const info = fstatSync(fd);
    // A copy outside the mount lives in a directory others may write to: only a
    // file ageboot made (regular, one link, root's or already the owner's) is touched.
    if (!info.isFile() || info.nlink !== 1 || (info.uid !== 0 && info.uid !== ownership.uid)) {
      throw new AgebootError(
        "IO",
        `${path}: not the file ageboot installed (a ${info.isFile() ? `file with ${info.nlink} links owned by uid ${info.uid}` : "non-regular file"}); left alone`,
      );
    }
    if (info.uid === ownership.uid && info.gid === ownership.gid && (info.mode & 0o7777) === ownership.mode) return false;
    fchmodSync(fd, 0);
    crashPoint("chmod 0000 before chown");
    fchownSync(fd, ownership.uid, ownership.gid);
    crashPoint("chown deferred secret");
    fchmodSync(fd, ownership.mode);
    crashPoint("chmod deferred secret");
    return true;
  } finally {
    closeSync(fd);
  }
}
