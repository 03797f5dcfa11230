import { mkdirSync, renameSync, symlinkSync } from "node:fs";
import { dirname } from "node:path";
import { crashPoint } from "../fault-injection.js";
import { removeStaleTemporaries, temporaryNameFor, unlinkQuietly } from "./temporary-names.js";

/**
 * Point the symlink `link` at `target` in one step: a symlink under a temporary
 * name beside it, renamed over it. rename(2) replaces the old link atomically,
 * so every reader resolves either the old target or the new one.
 */
export function replaceSymlink(link: string, target: string): void {
  mkdirSync(dirname(link), { recursive: true, mode: 0o755 });
  crashPoint("mkdir symlink parent");
  removeStaleTemporaries(link);
  const temporary = temporaryNameFor(link);
  symlinkSync(target, temporary);
  crashPoint("symlink temporary");
  try {
    renameSync(temporary, link);
    crashPoint("swap symlink");
  } catch (error) {
    unlinkQuietly(temporary);
    throw error;
  }
}
