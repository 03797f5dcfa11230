import { lstatSync, readdirSync } from "node:fs";
import type { Outcome } from "./outcome.js";

/**
 * Compare the run's staged secrets and rendered templates with the generation
 * users see now (null: none): each is classified added, changed (content,
 * compared while staging or rendering, or owner, group or mode differ) or
 * unchanged. Returns the file names (a template's: rendered/<name>) the
 * current generation holds that the manifest no longer declares: the removed
 * ones. A declared item that failed is never "removed".
 */
export function classifyChanges(outcomes: readonly Outcome[], currentDir: string | null): string[] {
  const previousNames = currentDir === null ? new Set<string>() : listFiles(currentDir);
  for (const outcome of outcomes) {
    if (!outcome.isStaged) continue;
    if (!previousNames.has(outcome.fileName)) {
      outcome.classify("added");
      continue;
    }
    const info = lstatSync(`${currentDir}/${outcome.fileName}`);
    const { uid, gid, mode } = outcome.ownership!;
    const same = outcome.sameContent && info.uid === uid && info.gid === gid && (info.mode & 0o7777) === mode;
    outcome.classify(same ? "unchanged" : "changed");
  }
  const declared = new Set(outcomes.map((outcome) => outcome.fileName));
  return [...previousNames].filter((name) => !declared.has(name)).sort();
}

/** Relative names of the regular files in a generation, sub-directories included. */
function listFiles(directory: string): Set<string> {
  const entries = readdirSync(directory, { recursive: true, withFileTypes: true });
  const names = new Set<string>();
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    // Node 20 names the parent "path" (later "parentPath"); both are absolute here.
    const parent = (entry as { parentPath?: string }).parentPath ?? (entry as { path?: string }).path ?? directory;
    names.add(parent === directory ? entry.name : `${parent.slice(directory.length + 1)}/${entry.name}`);
  }
  return names;
}
