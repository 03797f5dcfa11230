import { lstatSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { AgebootError } from "../errors.js";
import { CURRENT_LINK } from "./swap.js";
import { mutated } from "../fault-injection.js";

const GENERATION_NAME = /^[1-9][0-9]{0,15}$/;

/** Generation numbers present in the mount point, ascending. */
export function listGenerations(mountPoint: string): number[] {
  let names: string[];
  try {
    names = readdirSync(mountPoint);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  return names.filter((name) => GENERATION_NAME.test(name)).map(Number).sort((a, b) => a - b);
}

/**
 * The generation `secretsDir` points at, or null when there is none yet (first
 * run after boot, or a link to something that is not one of our generations).
 * A real directory or file at `secretsDir` is an error: ageboot would have to
 * delete it to install the link (agenix#291), and it does not delete what it did not make.
 */
export function currentGeneration(secretsDir: string, mountPoint: string, existing: readonly number[]): number | null {
  let info;
  try {
    info = lstatSync(secretsDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  if (!info.isSymbolicLink()) {
    const what = info.isDirectory() ? "a real directory" : "a file that is not a symlink";
    throw new AgebootError("SETUP", `${secretsDir} is ${what}; it must be a symlink that ageboot manages. Move it away (agenix#291) and run again`);
  }
  const target = resolve(dirname(secretsDir), readlinkSync(secretsDir));
  return dirname(target) === mountPoint ? existingGeneration(target.slice(mountPoint.length + 1), existing) : null;
}

/** The generation a link target names, if it is one that exists. */
function existingGeneration(name: string, existing: readonly number[]): number | null {
  return GENERATION_NAME.test(name) && existing.includes(Number(name)) ? Number(name) : null;
}

export function generationPath(mountPoint: string, generation: number): string {
  return `${mountPoint}/${generation}`;
}

/** The generation `<mountPoint>/current` names, or null. */
export function currentLinkGeneration(mountPoint: string, existing: readonly number[]): number | null {
  try {
    return existingGeneration(readlinkSync(`${mountPoint}/${CURRENT_LINK}`), existing);
  } catch {
    return null;
  }
}

/**
 * Remove generations that were never completed (numbered above the current one:
 * left by a run that crashed or failed), or, with no current generation, all of
 * them; never one that a link still names (a run killed between updating the
 * two links leaves `current` one generation ahead of `secretsDir`).
 */
export function removeLeftovers(mountPoint: string, existing: readonly number[], current: number | null, stillLinked: ReadonlySet<number>): number[] {
  const leftovers = existing.filter((generation) => (current === null || generation > current) && !stillLinked.has(generation));
  removeGenerations(mountPoint, leftovers, "remove leftover generation");
  return leftovers;
}

/** Keep the current generation and `keep` generations before it; remove the rest. Returns what was removed. */
export function pruneGenerations(mountPoint: string, current: number, keep: number): number[] {
  const existing = listGenerations(mountPoint);
  const previous = existing.filter((generation) => generation < current);
  const kept = new Set([current, ...previous.slice(Math.max(0, previous.length - keep))]);
  const removed = existing.filter((generation) => !kept.has(generation));
  removeGenerations(mountPoint, removed, "prune generation");
  return removed;
}

/** One at a time, so that a crash test can kill between any two removals. */
function removeGenerations(mountPoint: string, generations: readonly number[], step: string): void {
  for (const generation of generations) {
    rmSync(generationPath(mountPoint, generation), { recursive: true, force: true });
    mutated(step);
  }
}
