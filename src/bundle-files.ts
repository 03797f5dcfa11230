import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * A file that ships beside the bundle in dist/ (the staging worker). The ES
 * module bundle finds it from its own URL. A process started from the start-up
 * snapshot has no module URL (its code was loaded at build time, elsewhere),
 * so it looks beside the snapshot blob it was started with.
 */
export function bundleFile(name: string): URL {
  const blob = snapshotBlobPath(process.execArgv);
  return blob === null ? new URL(`./${name}`, import.meta.url) : pathToFileURL(join(dirname(blob), name));
}

/** The --snapshot-blob argument node was started with, if any. */
export function snapshotBlobPath(execArgv: readonly string[]): string | null {
  for (const [index, arg] of execArgv.entries()) {
    if (arg === "--snapshot-blob") return execArgv[index + 1] ?? null;
    if (arg.startsWith("--snapshot-blob=")) return arg.slice("--snapshot-blob=".length);
  }
  return null;
}
