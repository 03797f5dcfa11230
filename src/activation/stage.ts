import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { mkdir, open, unlink, type FileHandle } from "node:fs/promises";
import { openPlaintext, readPlaintext } from "../age/decrypt.js";
import { AgebootError, describeCause } from "../errors.js";
import type { LoadedIdentity } from "../identities/types.js";
import { setDirectoryAccess } from "./mount.js";

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
 * then given its owner, group and mode through the same descriptor. Returns the
 * SHA-256 of the plaintext, for change reports. On any failure the partial file
 * is removed.
 */
export async function decryptInto(target: string, file: string, identities: readonly LoadedIdentity[], ownership: Ownership): Promise<Buffer> {
  // The header is verified before the target exists: a wrong key creates nothing.
  const plaintext = await openPlaintext(file, identities);
  return writeExclusive(target, ownership, (output, hash) =>
    readPlaintext(file, plaintext, async (chunk) => {
      hash.update(chunk);
      await writeAll(output, chunk, target);
    }),
  );
}

/** Same creation rules, filled from bytes already in memory (or from another file's stream). */
export async function writeExclusive(
  target: string,
  ownership: Ownership,
  fill: (output: FileHandle, hash: ReturnType<typeof createHash>) => Promise<void>,
): Promise<Buffer> {
  let output: FileHandle;
  try {
    output = await open(target, CREATE_EXCLUSIVE, 0o400);
  } catch (error) {
    throw new AgebootError("IO", `${target}: cannot create (${describeCause(error)})`, { cause: error });
  }
  const hash = createHash("sha256");
  try {
    await fill(output, hash);
    await output.chown(ownership.uid, ownership.gid);
    await output.chmod(ownership.mode);
    await output.close();
  } catch (error) {
    await output.close().catch(() => {});
    await unlink(target).catch(() => {});
    if (error instanceof AgebootError) throw error;
    throw new AgebootError("IO", `${target}: cannot write (${describeCause(error)})`, { cause: error });
  }
  return hash.digest();
}

async function writeAll(output: FileHandle, chunk: Uint8Array, target: string): Promise<void> {
  try {
    for (let offset = 0; offset < chunk.length; ) {
      const { bytesWritten } = await output.write(chunk, offset, chunk.length - offset);
      offset += bytesWritten;
    }
  } catch (error) {
    const full = (error as NodeJS.ErrnoException).code === "ENOSPC";
    throw new AgebootError("IO", `${target}: ${full ? "the secrets mount is full (ENOSPC)" : `cannot write (${describeCause(error)})`}`, { cause: error });
  }
}

/**
 * Create the directories a name with "/" needs inside a generation, each with
 * the generation's own access (0751, group keys). `made` is shared by the
 * secrets staged in parallel, so each directory is created once and waited for.
 */
export async function makeParentDirectories(generationDir: string, name: string, keysGid: number | null, made: Map<string, Promise<void>>): Promise<void> {
  const parts = name.split("/").slice(0, -1);
  for (let depth = 1; depth <= parts.length; depth++) {
    const directory = `${generationDir}/${parts.slice(0, depth).join("/")}`;
    let creation = made.get(directory);
    if (!creation) {
      creation = mkdir(directory, { mode: 0o751 }).then(() => setDirectoryAccess(directory, keysGid));
      made.set(directory, creation);
    }
    await creation;
  }
}
