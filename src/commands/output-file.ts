import { randomBytes } from "node:crypto";
import { constants, lstatSync } from "node:fs";
import { open, rename, unlink, type FileHandle } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { ANY_OWNER, type HeldDirectory, holdExistingParentDirectory } from "../activation/held-directory.js";
import { AgebootError, describeCause } from "../errors.js";

/**
 * Write `decrypt -o OUTPUT`: fill a new file that this run creates
 * exclusively (O_EXCL, mode 0600) beside OUTPUT, then rename it over OUTPUT.
 * An existing OUTPUT is replaced, never opened: in a shared directory another
 * user may have created it, and writing through their inode (as O_TRUNC did)
 * hands them the plaintext through a descriptor they opened beforehand, or
 * through chmod, since they own it. If decryption fails, the new file is
 * removed and OUTPUT is left as it was.
 *
 * Both names are resolved through /proc/self/fd/N of the directory, reached by
 * descriptor from "/" and held, so that what is created and renamed lands in
 * that directory, even if a component of the path is swapped meanwhile.
 */
export async function writeOutputFile(path: string, fill: (output: FileHandle) => Promise<void>): Promise<void> {
  const directory = holdDirectory(path);
  try {
    const pinned = directory.self;
    const target = directory.entry(basename(path));
    refuseToReplace(path, target);
    const { handle, temporary } = await createTemporary(pinned, path);
    try {
      await fill(handle);
      await handle.sync();
      await handle.close();
      await rename(temporary, target);
    } catch (error) {
      await handle.close().catch(() => {});
      await unlink(temporary).catch(() => {});
      if (error instanceof AgebootError) throw error;
      throw outputError(path, "cannot write output", error);
    }
  } finally {
    directory.close();
  }
}

/**
 * Only a regular file (or nothing) at OUTPUT is replaced. A symbolic link is
 * neither followed nor replaced, as before; a device such as /dev/null must
 * not become a file of plaintext. (A race that swaps the file after this check
 * cannot make the rename write through anything: rename replaces names.)
 */
function refuseToReplace(path: string, target: string): void {
  let kind: string | null = null;
  try {
    const info = lstatSync(target);
    if (info.isSymbolicLink()) kind = "a symbolic link, which ageboot neither follows nor replaces";
    else if (!info.isFile()) kind = "not a regular file";
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw outputError(path, "cannot create output", error);
  }
  if (kind !== null) throw new AgebootError("IO", `${path}: cannot create output (it is ${kind})`);
}

/**
 * OUTPUT's directory, reached from "/" by descriptor (held-directory.ts), so a
 * user who owns a directory on the way cannot swap it for a symlink and make
 * root write elsewhere; a symlink is followed only where root alone can have put it.
 */
function holdDirectory(path: string): HeldDirectory {
  let held: HeldDirectory | null;
  try {
    held = holdExistingParentDirectory(resolve(path), ANY_OWNER);
  } catch (error) {
    throw new AgebootError("IO", `${path}: cannot create output (${describeCause(error)})`, { cause: error });
  }
  if (held === null) throw new AgebootError("IO", `${path}: cannot create output (its directory does not exist)`);
  return held;
}

/** A new file beside OUTPUT, under a random name; an existing name (planted or not) is never opened. */
async function createTemporary(pinned: string, path: string): Promise<{ handle: FileHandle; temporary: string }> {
  for (let attempt = 0; ; attempt++) {
    const temporary = `${pinned}/.${basename(path)}.ageboot-${randomBytes(6).toString("hex")}`;
    try {
      const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
      return { handle: await open(temporary, flags, 0o600), temporary };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST" && attempt < 8) continue;
      throw outputError(path, "cannot create output", error);
    }
  }
}

function outputError(path: string, what: string, cause: unknown): AgebootError {
  return new AgebootError("IO", `${path}: ${what} (${describeCause(cause).replaceAll(/\/proc\/self\/fd\/\d+\//g, "")})`, { cause });
}
