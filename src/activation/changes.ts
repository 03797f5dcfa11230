import { lstatSync, readdirSync } from "node:fs";

/** What a new generation holds for one secret. */
export interface InstalledSecret {
  readonly name: string;
  /** Whether its plaintext equals the current generation's file of that name. */
  readonly sameContent: boolean;
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
}

export interface ChangeReport {
  readonly added: string[];
  readonly changed: string[];
  readonly removed: string[];
  readonly unchanged: string[];
}

/**
 * Compare a new set of secrets with the generation users see now: a secret is
 * changed when its content (compared while staging), owner, group or mode differ.
 */
export function compareWithCurrent(currentDir: string | null, installed: readonly InstalledSecret[]): ChangeReport {
  const report: ChangeReport = { added: [], changed: [], removed: [], unchanged: [] };
  const previousNames = currentDir ? listFiles(currentDir) : new Set<string>();
  for (const secret of installed) {
    if (!previousNames.has(secret.name)) {
      report.added.push(secret.name);
      continue;
    }
    const path = `${currentDir}/${secret.name}`;
    const info = lstatSync(path);
    const same = secret.sameContent && info.uid === secret.uid && info.gid === secret.gid && (info.mode & 0o7777) === secret.mode;
    (same ? report.unchanged : report.changed).push(secret.name);
  }
  const declared = new Set(installed.map((secret) => secret.name));
  for (const name of previousNames) if (!declared.has(name)) report.removed.push(name);
  for (const list of Object.values(report)) list.sort();
  return report;
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
