import { createReadStream } from "node:fs";
import { mkdir, rename, statfs, symlink } from "node:fs/promises";
import { dirname } from "node:path";
import { AgebootError, describeCause } from "../errors.js";
import { crashPoint } from "../fault-injection.js";
import type { Logger } from "../log.js";
import type { SecretOutcome } from "./outcome.js";
import { hasCustomPath } from "./plan.js";
import { removeStaleTemporaries, temporaryNameFor, unlinkQuietly } from "./temporary-names.js";
import { writeAll, writeExclusive } from "./write-exclusive.js";

const RAMFS_MAGIC = 0x858458f6;
const TMPFS_MAGIC = 0x01021994;

/** A custom path made under a temporary name, waiting for its rename. */
export interface PreparedPath {
  readonly outcome: SecretOutcome;
  readonly temporary: string;
}

/**
 * Step 6, first phase: for every staged secret with a custom path, the symlink
 * (to secretsDir/<name>, so it follows every future generation) or the copy
 * (owner and mode set) under a temporary name in the same directory. Nothing
 * users read has changed yet. A secret whose path cannot be prepared fails.
 */
export async function prepareCustomPaths(outcomes: readonly SecretOutcome[], secretsDir: string, generationDir: string, log: Logger): Promise<PreparedPath[]> {
  const prepared: PreparedPath[] = [];
  for (const outcome of outcomes) {
    if (!outcome.isStaged || !hasCustomPath(outcome.secret, secretsDir)) continue;
    try {
      prepared.push(await prepareCustomPath(outcome, secretsDir, `${generationDir}/${outcome.name}`, log));
    } catch (error) {
      outcome.fail(error);
    }
  }
  return prepared;
}

async function prepareCustomPath(outcome: SecretOutcome, secretsDir: string, stagedFile: string, log: Logger): Promise<PreparedPath> {
  const { secret } = outcome;
  const temporary = temporaryNameFor(secret.path);
  try {
    await mkdir(dirname(secret.path), { recursive: true, mode: 0o755 });
    crashPoint("mkdir custom path directory");
    removeStaleTemporaries(secret.path);
    if (secret.symlink) {
      await symlink(`${secretsDir}/${secret.name}`, temporary);
      crashPoint("symlink custom path temporary");
    } else {
      await warnUnlessMemoryBacked(outcome, log);
      await writeExclusive(temporary, outcome.ownership!, async (fd) => {
        for await (const chunk of createReadStream(stagedFile)) writeAll(fd, chunk as Buffer, temporary);
      });
    }
  } catch (error) {
    unlinkQuietly(temporary);
    const cause = error instanceof AgebootError ? error.message : describeCause(error);
    throw new AgebootError("IO", `path ${secret.path}: cannot prepare (${cause})`, { cause: error });
  }
  return { outcome, temporary };
}

/** Invariant 2: plaintext outside the memory-backed mount only on request, and logged. */
async function warnUnlessMemoryBacked({ secret }: SecretOutcome, log: Logger): Promise<void> {
  const { type } = await statfs(dirname(secret.path));
  if (type === RAMFS_MAGIC || type === TMPFS_MAGIC) {
    log.info(`secret ${secret.name}: writing a copy to ${secret.path} (symlink: false)`);
  } else {
    log.warn(`secret ${secret.name}: writing a plaintext copy to ${secret.path}, which is NOT on a memory-backed file system (symlink: false)`);
  }
}

/** Step 7, after the swap: one rename each, atomic for every reader of that path. A path that fails fails its secret. */
export async function commitCustomPaths(prepared: readonly PreparedPath[]): Promise<void> {
  for (const { outcome, temporary } of prepared) {
    try {
      await rename(temporary, outcome.secret.path);
      crashPoint("install custom path");
    } catch (error) {
      outcome.fail(new AgebootError("IO", `path ${outcome.secret.path}: cannot install (${describeCause(error)})`));
    }
  }
}

/** Step 7, when the new generation is discarded: its custom paths go with it. */
export function discardCustomPaths(prepared: readonly PreparedPath[]): void {
  for (const { temporary } of prepared) {
    unlinkQuietly(temporary);
    crashPoint("discard custom path temporary");
  }
}
