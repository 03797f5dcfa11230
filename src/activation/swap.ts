import { mkdir, rename, symlink, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { removeStaleTemporaries, temporaryNameFor } from "./temporary-names.js";
import { mutated } from "../fault-injection.js";

/**
 * Point `secretsDir` at `generationDir` in one step: a symlink under a temporary
 * name beside it, renamed over it. rename(2) replaces the old link atomically,
 * so every reader resolves either the old generation or the new one.
 */
export async function swapSymlink(secretsDir: string, generationDir: string): Promise<void> {
  await mkdir(dirname(secretsDir), { recursive: true, mode: 0o755 });
  mutated("mkdir secretsDir parent");
  await removeStaleTemporaries(secretsDir);
  const temporary = temporaryNameFor(secretsDir);
  await symlink(generationDir, temporary);
  mutated("symlink secretsDir temporary");
  try {
    await rename(temporary, secretsDir);
    mutated("swap secretsDir");
  } catch (error) {
    await unlink(temporary).catch(() => {});
    throw error;
  }
}
