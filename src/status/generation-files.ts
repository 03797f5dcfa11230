import type { Stats } from "node:fs";
import type { HeldDirectory } from "../activation/held-directory.js";
import { type Blocked, holdDirectoryIn, isBlocked, listNames, lstatIn, type OpenFile, openRegularFileIn } from "./reach.js";

/** Files read from one generation at most (activation is measured with 10,000 secrets: docs/performance.md). */
export const MAX_GENERATION_ENTRIES = 100_000;
/** Sub-directory levels followed in a generation: names with "/" make them, and no real name has this many. */
const MAX_DEPTH = 64;

/** What is at a name in a generation: a file's metadata, or what else is there. */
export type GenerationEntry = { readonly name: string; readonly info: Stats } | { readonly name: string; readonly blocked: Blocked };

/**
 * Every entry of a generation, sub-directories walked by descriptor (names
 * with "/"), at most MAX_GENERATION_ENTRIES of them. Only metadata: no file is
 * opened. `complete` is false when a directory could not be listed or the
 * bound was reached, with the first reason.
 */
export function listGeneration(generation: HeldDirectory): { entries: GenerationEntry[]; complete: boolean; reason?: string } {
  const entries: GenerationEntry[] = [];
  let reason: string | undefined;
  const walk = (directory: HeldDirectory, prefix: string, depth: number) => {
    const listed = listNames(directory, MAX_GENERATION_ENTRIES - entries.length);
    if (isBlocked(listed)) {
      reason ??= listed.reason;
      return;
    }
    if (!listed.complete) reason ??= `more than ${MAX_GENERATION_ENTRIES} files; listed the first`;
    for (const name of listed.names.sort()) {
      const info = lstatIn(directory, name);
      if (isBlocked(info) || !info.isDirectory()) {
        entries.push(isBlocked(info) ? { name: prefix + name, blocked: info } : { name: prefix + name, info });
        continue;
      }
      if (depth >= MAX_DEPTH) {
        reason ??= `${directory.path}/${name}: more than ${MAX_DEPTH} levels of sub-directories; not listed`;
        continue;
      }
      const child = holdDirectoryIn(directory, name);
      if (isBlocked(child)) {
        reason ??= child.reason;
        continue;
      }
      try {
        walk(child, `${prefix}${name}/`, depth + 1);
      } finally {
        child.close();
      }
    }
  };
  walk(generation, "", 0);
  return reason === undefined ? { entries, complete: true } : { entries, complete: false, reason };
}

/** The metadata at one secret's name ("a/b" goes through the sub-directory a), not following anything. */
export function statSecret(generation: HeldDirectory, name: string): Stats | Blocked {
  return inSubdirectory(generation, name, (directory, last) => lstatIn(directory, last, `${generation.path}/${name}`));
}

/** One secret's file in a generation, open for reading (only if a regular file). */
export function openSecret(generation: HeldDirectory, name: string): OpenFile | Blocked {
  return inSubdirectory(generation, name, (directory, last) => openRegularFileIn(directory, last, `${generation.path}/${name}`));
}

function inSubdirectory<T>(generation: HeldDirectory, name: string, act: (directory: HeldDirectory, last: string) => T | Blocked): T | Blocked {
  const parts = name.split("/");
  const last = parts.pop()!;
  const held: HeldDirectory[] = [];
  try {
    let directory = generation;
    for (const part of parts) {
      const next = holdDirectoryIn(directory, part);
      if (isBlocked(next)) return next;
      held.push(next);
      directory = next;
    }
    return act(directory, last);
  } finally {
    for (const directory of held) directory.close();
  }
}
