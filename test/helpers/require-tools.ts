import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { codeCachePath, launcherPath, startPath } from "./paths.js";

/**
 * The privileged and system tiers test against real tools and the built CLI. A
 * missing tool fails the run instead of skipping tests silently. (The unit
 * tier needs neither, and has no such setup.)
 */
export function requireTools(tools: readonly string[]): void {
  const missing = tools.filter((tool) => spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0);
  if (missing.length > 0) {
    throw new Error(`missing test tools: ${missing.join(", ")} (npm test installs them on Debian as root: scripts/ensure-test-tools.sh)`);
  }
  for (const built of [launcherPath, startPath, codeCachePath]) {
    if (!existsSync(built)) throw new Error(`${built} is not built; run npm run build (npm test does)`);
  }
}
