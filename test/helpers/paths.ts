import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
export const cliPath = join(repoRoot, "dist", "cli.js");
/** What ships: the launcher, and the start-up snapshot it starts node from (scripts/build.mjs). */
export const launcherPath = join(repoRoot, "dist", "ageboot");
export const snapshotPath = join(repoRoot, "dist", "ageboot.blob");
