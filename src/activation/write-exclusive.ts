import { closeSync, constants, fchmodSync, fchownSync, openSync, unlinkSync, writeSync } from "node:fs";
import { AgebootError, describeCause } from "../errors.js";
import { crashPoint } from "../fault-injection.js";

/** Create exclusively, never through a symlink, never reusing a file, readable by its owner (root) only. */
const CREATE_EXCLUSIVE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Where a write fails when its file system is full, unless the caller says another. */
const SECRETS_MOUNT = "the secrets mount";

/** Who a file belongs to once written, and its permission bits. */
export interface Ownership {
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
}

/**
 * Invariant 3, for every file ageboot writes plaintext into (a generation's
 * secret, a `symlink: false` copy): created exclusively with mode 0400 as root
 * before a byte is written, filled by `fill`, then given its mode, owner and
 * group through the same descriptor. On any failure the partial file is removed.
 *
 * Synchronous file system calls on purpose: the target is on ramfs, where each
 * call takes microseconds, far less than a round trip through libuv's thread pool.
 */
export async function writeExclusive(target: string, ownership: Ownership, fill: (fd: number) => Promise<void>): Promise<void> {
  let fd: number;
  try {
    fd = openSync(target, CREATE_EXCLUSIVE, 0o400);
    crashPoint("create secret file");
  } catch (error) {
    throw new AgebootError("IO", `${target}: cannot create (${describeCause(error)})`, { cause: error });
  }
  try {
    await fill(fd);
    // Never more readable than its final state, for anyone (invariant 3), in three
    // steps. First the owner's bits only, while root still owns it: only root can
    // open it. Then the owner and group, who now have exactly their final access
    // (giving the owner first, with 0400 still set, let an owner whose mode
    // denies them read it meanwhile). Then the group's and others' bits.
    fchmodSync(fd, ownership.mode & 0o700);
    crashPoint("chmod secret file (owner bits)");
    fchownSync(fd, ownership.uid, ownership.gid);
    crashPoint("chown secret file");
    fchmodSync(fd, ownership.mode);
    crashPoint("chmod secret file");
    closeSync(fd);
  } catch (error) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    try {
      unlinkSync(target);
    } catch {
      // nothing to remove
    }
    if (error instanceof AgebootError) throw error;
    throw new AgebootError("IO", `${target}: cannot write (${describeCause(error)})`, { cause: error });
  }
}

/**
 * Write all of `chunk` to `fd` (writeSync may write less); a full file system is
 * named as such: `where` is the one `target` is on (the secrets mount, unless said).
 */
export function writeAll(fd: number, chunk: Uint8Array, target: string, where = SECRETS_MOUNT): void {
  try {
    for (let offset = 0; offset < chunk.length; ) {
      offset += writeSync(fd, chunk, offset, chunk.length - offset);
      crashPoint("write secret bytes");
    }
  } catch (error) {
    throw writeFailure(error, target, where);
  }
}

/**
 * A failed write of a secret's bytes, as reported: a full file system is named
 * as such, as `where` (a copy's is its custom path's, not the secrets mount).
 */
export function writeFailure(error: unknown, target: string, where = SECRETS_MOUNT): AgebootError {
  if (error instanceof AgebootError) return error;
  const errno = (error as NodeJS.ErrnoException).code;
  const full = errno === "ENOSPC" || errno === "EDQUOT";
  return new AgebootError("IO", `${target}: ${full ? `${where} is full (${errno})` : `cannot write (${describeCause(error)})`}`, { cause: error });
}
