import { closeSync, constants, fchmodSync, fchownSync, mkdirSync, openSync, unlinkSync, writeSync } from "node:fs";
import { openPlaintext } from "../age/decrypt.js";
import { AgebootError, describeCause } from "../errors.js";
import type { LoadedIdentity } from "../identities/types.js";
import { setDirectoryAccess } from "./mount.js";
import { SameContent } from "./same-content.js";
import { mutated } from "../fault-injection.js";

/** Create exclusively, never through a symlink, never reusing a file, readable by its owner (root) only. */
const CREATE_EXCLUSIVE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export interface Ownership {
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
}

/**
 * Decrypt `file` straight into a new file at `target` (invariant 3): created
 * exclusively with mode 0400 as root before a byte is written, then filled,
 * then given its owner, group and mode through the same descriptor. Returns
 * whether the plaintext equals `currentFile` (the same secret as users see it
 * now), for change reports. On any failure the partial file is removed.
 */
export async function decryptInto(
  target: string,
  file: string,
  identities: readonly LoadedIdentity[],
  ownership: Ownership,
  currentFile: string | null,
): Promise<boolean> {
  // The header is verified before the target exists: a wrong key creates nothing.
  const plaintext = await openPlaintext(file, identities);
  const sameContent = new SameContent(currentFile, plaintext.size);
  try {
    await writeExclusive(target, ownership, (fd) =>
      plaintext.pipeTo((chunk) => {
        sameContent.update(chunk);
        writeAll(fd, chunk, target);
      }),
    );
  } finally {
    await plaintext.close();
  }
  return sameContent.result();
}

/**
 * The creation rules above, for any source of bytes. Synchronous file system
 * calls on purpose: the target is on ramfs, where each call takes microseconds,
 * far less than a round trip through libuv's thread pool.
 */
export async function writeExclusive(target: string, ownership: Ownership, fill: (fd: number) => Promise<void>): Promise<void> {
  let fd: number;
  try {
    fd = openSync(target, CREATE_EXCLUSIVE, 0o400);
    mutated("create secret file");
  } catch (error) {
    throw new AgebootError("IO", `${target}: cannot create (${describeCause(error)})`, { cause: error });
  }
  try {
    await fill(fd);
    fchownSync(fd, ownership.uid, ownership.gid);
    mutated("chown secret file");
    fchmodSync(fd, ownership.mode);
    mutated("chmod secret file");
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

export function writeAll(fd: number, chunk: Uint8Array, target: string): void {
  try {
    for (let offset = 0; offset < chunk.length; ) {
      offset += writeSync(fd, chunk, offset, chunk.length - offset);
      mutated("write secret bytes");
    }
  } catch (error) {
    const full = (error as NodeJS.ErrnoException).code === "ENOSPC";
    throw new AgebootError("IO", `${target}: ${full ? "the secrets mount is full (ENOSPC)" : `cannot write (${describeCause(error)})`}`, { cause: error });
  }
}

/**
 * Create the directories a name with "/" needs inside a generation, each with
 * the generation's own access (0751, group keys). Called for every secret before
 * staging starts; `made` remembers what exists already.
 */
export function makeParentDirectories(generationDir: string, name: string, keysGid: number | null, made: Set<string>): void {
  const parts = name.split("/").slice(0, -1);
  for (let depth = 1; depth <= parts.length; depth++) {
    const directory = `${generationDir}/${parts.slice(0, depth).join("/")}`;
    if (made.has(directory)) continue;
    made.add(directory);
    mkdirSync(directory, { mode: 0o751 });
    mutated("mkdir secret directory");
    setDirectoryAccess(directory, keysGid);
  }
}
