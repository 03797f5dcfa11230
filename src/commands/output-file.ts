import { randomBytes } from "node:crypto";
import { closeSync, constants, lstatSync, openSync } from "node:fs";
import { open, rename, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname } from "node:path";
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
 * Both names are resolved through /proc/self/fd/N of the directory opened
 * once, so that the rename lands in the directory the file was created in,
 * even if a component of the path is swapped meanwhile.
 */
export async function writeOutputFile(path: string, fill: (output: FileHandle) => Promise<void>): Promise<void> {
  refuseToReplace(path);
  const directory = openDirectory(path);
  try {
    const pinned = `/proc/self/fd/${directory}`;
    const target = `${pinned}/${basename(path)}`;
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
    closeSync(directory);
  }
}

/**
 * Only a regular file (or nothing) at OUTPUT is replaced. A symbolic link is
 * neither followed nor replaced, as before; a device such as /dev/null must
 * not become a file of plaintext. (A race that swaps the file after this check
 * cannot make the rename write through anything: rename replaces names.)
 */
function refuseToReplace(path: string): void {
  let kind: string | null = null;
  try {
    const info = lstatSync(path);
    if (info.isSymbolicLink()) kind = "a symbolic link, which ageboot neither follows nor replaces";
    else if (!info.isFile()) kind = "not a regular file";
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw outputError(path, "cannot create output", error);
  }
  if (kind !== null) throw new AgebootError("IO", `${path}: cannot create output (it is ${kind})`);
}

function openDirectory(path: string): number {
  try {
    return openSync(dirname(path), constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (error) {
    throw outputError(path, "cannot create output", error);
  }
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
