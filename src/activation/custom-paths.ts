import { chownSync, closeSync, constants, fstatSync, lstatSync, openSync, readSync, renameSync, symlinkSync } from "node:fs";
import { statfs } from "node:fs/promises";
import { AgebootError, describeCause } from "../errors.js";
import { crashPoint } from "../fault-injection.js";
import type { Logger } from "../log.js";
import type { ManifestPaths } from "../manifest/forbidden-paths.js";
import { ForbiddenPlaces } from "./forbidden-places.js";
import { heldForTemplates } from "./hand-over.js";
import { finalName, type HeldDirectory, holdParentDirectory, trustedFor } from "./held-directory.js";
import type { Outcome } from "./outcome.js";
import { hasCustomPath } from "./plan.js";
import { removeStaleTemporariesIn, temporaryBaseNameFor, unlinkQuietly } from "./temporary-names.js";
import { writeAll, writeExclusive } from "./write-exclusive.js";

/**
 * O_PATH (Linux, the same value on x86_64 and aarch64; Node's constants lack it):
 * with O_NOFOLLOW, a descriptor of a symlink itself, on which chown through
 * /proc/self/fd/<fd> acts on the symlink, as fchownat(fd, "", AT_EMPTY_PATH) does.
 */
const O_PATH = 0o10000000;
const RAMFS_MAGIC = 0x858458f6;
/** Open a generation's file without following a link, and without blocking on anything but a regular file. */
const OPEN_STAGED = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
/** A copy is read from the generation's file this much at a time. */
const COPY_CHUNK = 64 * 1024;

/**
 * The generation's file a `symlink: false` copy is made from: a descriptor
 * opened while the file is still one no user but ageboot's can write, what
 * it must be (owned by `uid`, `size` bytes: what staging wrote), and how to let it go.
 */
export interface CopySource {
  readonly fd: number;
  readonly uid: number;
  readonly size: number;
  close(): void;
}

/** Opens the source of an item's copy; `stagedFile` is its file in the generation. */
export type CopySourceOpener = (outcome: Outcome, stagedFile: string) => CopySource;
const TMPFS_MAGIC = 0x01021994;

/** A custom path made under a temporary name, waiting for its rename. */
export interface PreparedPath {
  readonly outcome: Outcome;
  /** The directory that holds the custom path, held open from the walk until the rename. */
  readonly directory: HeldDirectory;
  /** The temporary's name inside `directory`. */
  readonly temporary: string;
}

/**
 * Step 6, first phase: for every staged secret or rendered template with a
 * custom path, the symlink (to secretsDir/<name>, or secretsDir/rendered/<name>,
 * so it follows every future generation) or the copy
 * (owner and mode set) under a temporary name in the same directory. Nothing
 * users read has changed yet. A path that cannot be prepared fails the path,
 * not the secret (./failure-policy.ts).
 * Every step below happens inside the directory held by descriptor
 * (./held-directory.ts), never through the path again (invariant 7).
 */
export async function prepareCustomPaths(
  outcomes: readonly Outcome[],
  paths: ManifestPaths,
  generationDir: string,
  log: Logger,
  openSource: CopySourceOpener = openHeldStagedFile,
): Promise<PreparedPath[]> {
  const { secretsDir } = paths;
  const prepared: PreparedPath[] = [];
  // Forbidden and reserved places, by the identity of their directories: the walk refuses an alias of one.
  let places: ForbiddenPlaces | null = null;
  for (const outcome of outcomes) {
    if (!outcome.isStaged || !hasCustomPath(outcome, secretsDir)) continue;
    places ??= new ForbiddenPlaces(paths);
    try {
      prepared.push(await prepareCustomPath(outcome, secretsDir, `${generationDir}/${outcome.fileName}`, places, log, openSource));
    } catch (error) {
      outcome.failPath(error);
    }
  }
  return prepared;
}

async function prepareCustomPath(
  outcome: Outcome,
  secretsDir: string,
  stagedFile: string,
  places: ForbiddenPlaces,
  log: Logger,
  openSource: CopySourceOpener,
): Promise<PreparedPath> {
  const secret = outcome.declared;
  // Directories of root's or of the secret's owner, writable by no group but the secret's, and that one only
  // when its mode lets the group read it (a group that merely defaults to the owner's primary one is given nothing):
  // nobody else can redirect what is made in them.
  const { uid, gid, mode } = outcome.ownership!;
  const trustedOwners = trustedFor(uid, (mode & 0o040) !== 0 ? [gid] : []);
  let directory: HeldDirectory;
  try {
    directory = holdParentDirectory(secret.path, trustedOwners, places);
  } catch (error) {
    if (error instanceof AgebootError) throw new AgebootError(error.code, `path ${secret.path}: ${error.message}`, { cause: error });
    throw new AgebootError("IO", `path ${secret.path}: cannot prepare (${describeCause(error)})`, { cause: error });
  }
  const name = finalName(secret.path);
  const temporary = temporaryBaseNameFor(name);
  try {
    if (isDirectory(directory.entry(name))) {
      throw new AgebootError("PLAN", `path ${secret.path} is a directory; ageboot does not delete directories, remove it or choose another path`);
    }
    removeStaleTemporariesIn(directory.self, name);
    if (secret.symlink) {
      const target = `${secretsDir}/${outcome.fileName}`;
      symlinkSync(target, directory.entry(temporary));
      crashPoint("symlink custom path temporary");
      giveSymlink(directory.entry(temporary), target, outcome.ownership!);
    } else {
      await warnUnlessMemoryBacked(outcome, directory, log);
      const target = directory.entry(temporary);
      const source = openSource(outcome, stagedFile);
      try {
        await writeExclusive(target, outcome.ownership!, async (fd) => copyExactly(source, stagedFile, fd, target, `the file system of ${secret.path}`));
      } finally {
        source.close();
      }
    }
  } catch (error) {
    unlinkQuietly(directory.entry(temporary));
    directory.close();
    if (error instanceof AgebootError && error.code === "PLAN") throw error;
    const cause = error instanceof AgebootError ? error.message : describeCause(error);
    throw new AgebootError("IO", `path ${secret.path}: cannot prepare (${directory.explain(cause)})`, { cause: error });
  }
  return { outcome, directory, temporary };
}

/**
 * How step 6 opens what it copies: the generation's file, still held as the
 * running user's (./hand-over.ts: items with a copy go to their owners only
 * after this step), so no other user can have grown or rewritten it.
 */
function openHeldStagedFile(outcome: Outcome, stagedFile: string): CopySource {
  const fd = openSync(stagedFile, OPEN_STAGED);
  return { fd, uid: heldForTemplates().uid, size: outcome.stagedSize ?? -1, close: () => closeSync(fd) };
}

/**
 * Copy `source` into `fd`: only from the file staging wrote (regular, one link,
 * of the expected owner, of the size staging recorded), and never more than
 * that size, whatever the file holds by then: a secret's owner who could grow
 * it (a sparse terabyte) would have root fill the custom path's file system.
 */
function copyExactly(source: CopySource, stagedFile: string, fd: number, target: string, where: string): void {
  const info = fstatSync(source.fd);
  if (!info.isFile() || info.nlink !== 1 || info.uid !== source.uid || info.size !== source.size) {
    const what = info.isFile() ? `${info.size} bytes, owned by uid ${info.uid}, ${info.nlink} links` : "not a regular file";
    throw new AgebootError("IO", `${stagedFile} is not the file staging wrote (${what}; staged: ${source.size} bytes, uid ${source.uid}); not copied`);
  }
  const chunk = Buffer.alloc(Math.min(COPY_CHUNK, Math.max(source.size, 1)));
  try {
    for (let position = 0; position < source.size; ) {
      const read = readSync(source.fd, chunk, 0, Math.min(chunk.length, source.size - position), position);
      if (read === 0) throw new AgebootError("IO", `${stagedFile} is shorter than staging wrote; not copied`);
      writeAll(fd, chunk.subarray(0, read), target, where);
      position += read;
    }
  } finally {
    chunk.fill(0);
  }
}

/**
 * The symlink of a custom path belongs to the secret's owner and group, as
 * sops-nix makes it (pkgs/sops-install-secrets: SecureSymlinkChown, an O_PATH
 * descriptor and fchownat with AT_EMPTY_PATH): what `ls -l` and a service's own
 * ownership checks see. Never following a link: the descriptor is the
 * symlink's own, and it must be the one just made (a symlink of this process's
 * user with one link and the target's length): in a directory its owner
 * controls, the owner may have put something else at the temporary name since.
 */
function giveSymlink(entry: string, target: string, { uid, gid }: { uid: number; gid: number }): void {
  const fd = openSync(entry, O_PATH | constants.O_NOFOLLOW);
  try {
    const info = fstatSync(fd);
    if (info.uid === uid && info.gid === gid) return;
    if (!info.isSymbolicLink() || info.nlink !== 1 || info.uid !== process.geteuid?.() || info.size !== Buffer.byteLength(target)) {
      throw new AgebootError("IO", "the symlink just made was replaced before it could be given to its owner");
    }
    chownSync(`/proc/self/fd/${fd}`, uid, gid);
    crashPoint("chown custom path symlink");
  } finally {
    closeSync(fd);
  }
}

function isDirectory(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Invariant 2: plaintext outside the memory-backed mount only on request, and logged. */
async function warnUnlessMemoryBacked({ kind, declared }: Outcome, directory: HeldDirectory, log: Logger): Promise<void> {
  const { type } = await statfs(directory.self);
  if (type === RAMFS_MAGIC || type === TMPFS_MAGIC) {
    log.info(`${kind} ${declared.name}: writing a copy to ${declared.path} (symlink: false)`);
  } else {
    log.warn(`${kind} ${declared.name}: writing a plaintext copy to ${declared.path}, which is NOT on a memory-backed file system (symlink: false)`);
  }
}

/** Step 7, after the swap: one rename each, atomic for every reader of that path. A rename that fails fails the path. */
export async function commitCustomPaths(prepared: readonly PreparedPath[]): Promise<void> {
  for (const { outcome, directory, temporary } of prepared) {
    try {
      renameSync(directory.entry(temporary), directory.entry(finalName(outcome.declared.path)));
      crashPoint("install custom path");
    } catch (error) {
      unlinkQuietly(directory.entry(temporary));
      outcome.failPath(new AgebootError("IO", `path ${outcome.declared.path}: cannot install (${directory.explain(describeCause(error))})`));
    } finally {
      directory.close();
    }
  }
}

/** Step 7, when the new generation is discarded: its custom paths go with it. */
export function discardCustomPaths(prepared: readonly PreparedPath[]): void {
  for (const { directory, temporary } of prepared) {
    unlinkQuietly(directory.entry(temporary));
    crashPoint("discard custom path temporary");
    directory.close();
  }
}
