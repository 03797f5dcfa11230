import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
/** What ships (scripts/build.mjs): the launcher, and what it runs node on: start.cjs, which loads the bundle with its code cache. */
export const launcherPath = join(repoRoot, "dist", "ageboot");
export const startPath = join(repoRoot, "dist", "start.cjs");
export const codeCachePath = join(repoRoot, "dist", "cli.cache");
