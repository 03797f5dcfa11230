import { createReadStream } from "node:fs";
import { mkdir, rename, statfs, symlink } from "node:fs/promises";
import { dirname } from "node:path";
import { AgebootError, describeCause } from "../errors.js";
import type { Logger } from "../log.js";
import type { PlannedSecret } from "./plan.js";
import { writeAll, writeExclusive } from "./stage.js";
import { removeStaleTemporaries, temporaryNameFor, unlinkQuietly } from "./temporary-names.js";
import { mutated } from "../fault-injection.js";

const RAMFS_MAGIC = 0x858458f6;
const TMPFS_MAGIC = 0x01021994;

/** A custom path made under a temporary name, waiting for its rename. */
export interface PreparedPath {
  readonly secret: string;
  readonly temporary: string;
  readonly path: string;
}

/**
 * First phase for a custom path: make the symlink (to secretsDir/<name>, so it
 * follows every future generation) or the copy (owner and mode set) under a
 * temporary name in the same directory. Nothing users read has changed yet.
 */
export async function prepareCustomPath(secret: PlannedSecret, secretsDir: string, stagedFile: string, log: Logger): Promise<PreparedPath> {
  const temporary = temporaryNameFor(secret.path);
  try {
    await mkdir(dirname(secret.path), { recursive: true, mode: 0o755 });
    mutated("mkdir custom path directory");
    removeStaleTemporaries(secret.path);
    if (secret.symlink) {
      await symlink(`${secretsDir}/${secret.name}`, temporary);
      mutated("symlink custom path temporary");
    } else {
      await warnUnlessMemoryBacked(secret, log);
      await writeExclusive(temporary, secret, async (fd) => {
        for await (const chunk of createReadStream(stagedFile)) writeAll(fd, chunk as Buffer, temporary);
      });
    }
  } catch (error) {
    unlinkQuietly(temporary);
    const cause = error instanceof AgebootError ? error.message : describeCause(error);
    throw new AgebootError("IO", `path ${secret.path}: cannot prepare (${cause})`, { cause: error });
  }
  return { secret: secret.name, temporary, path: secret.path };
}

/** Invariant 2: plaintext outside the memory-backed mount only on request, and logged. */
async function warnUnlessMemoryBacked(secret: PlannedSecret, log: Logger): Promise<void> {
  const { type } = await statfs(dirname(secret.path));
  if (type === RAMFS_MAGIC || type === TMPFS_MAGIC) {
    log.info(`secret ${secret.name}: writing a copy to ${secret.path} (symlink: false)`);
  } else {
    log.warn(`secret ${secret.name}: writing a plaintext copy to ${secret.path}, which is NOT on a memory-backed file system (symlink: false)`);
  }
}

/** Second phase: one rename each, atomic for every reader of that path. */
export async function commitCustomPath(prepared: PreparedPath): Promise<void> {
  await rename(prepared.temporary, prepared.path);
  mutated("install custom path");
}

export function discardCustomPath(prepared: PreparedPath): void {
  unlinkQuietly(prepared.temporary);
  mutated("discard custom path temporary");
}
