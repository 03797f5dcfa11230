import { mkdirSync, renameSync, symlinkSync } from "node:fs";
import { dirname } from "node:path";
import { mutated } from "../fault-injection.js";
import { removeStaleTemporaries, temporaryNameFor, unlinkQuietly } from "./temporary-names.js";

/**
 * Point the symlink `link` at `target` in one step: a symlink under a temporary
 * name beside it, renamed over it. rename(2) replaces the old link atomically,
 * so every reader resolves either the old target or the new one.
 */
export function replaceSymlink(link: string, target: string): void {
  mkdirSync(dirname(link), { recursive: true, mode: 0o755 });
  mutated("mkdir symlink parent");
  removeStaleTemporaries(link);
  const temporary = temporaryNameFor(link);
  symlinkSync(target, temporary);
  mutated("symlink temporary");
  try {
    renameSync(temporary, link);
    mutated("swap symlink");
  } catch (error) {
    unlinkQuietly(temporary);
    throw error;
  }
}

/** The name, inside the mount point, of the relative link to the current generation (docs/containers.md). */
export const CURRENT_LINK = "current";

/**
 * Make `generation` current: first `<mountPoint>/current -> <generation>`, a
 * relative link inside the mount, which is what containers bind and read
 * through (it resolves the same wherever the mount is bound), then `secretsDir`,
 * the absolute link the host's services read through.
 */
export function makeCurrent(secretsDir: string, mountPoint: string, generation: number): void {
  replaceSymlink(`${mountPoint}/${CURRENT_LINK}`, String(generation));
  replaceSymlink(secretsDir, `${mountPoint}/${generation}`);
}
