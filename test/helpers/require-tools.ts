import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cliPath, launcherPath, snapshotPath } from "./tools.js";

/**
 * The suite tests against the real age, age-keygen and ssh-keygen and the built
 * CLI. A missing tool fails the run instead of skipping tests silently.
 */
export default function requireTools(): void {
  const missing = ["age", "age-keygen", "ssh-keygen", "flock", "unshare", "mount", "systemd-notify", "python3", "systemd-nspawn", "systemd-analyze", "debootstrap", "nix-instantiate"].filter((tool) => spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0);
  if (missing.length > 0) {
    throw new Error(`missing test tools: ${missing.join(", ")} (npm test installs them on Debian as root: scripts/ensure-test-tools.sh)`);
  }
  for (const built of [cliPath, launcherPath, snapshotPath]) {
    if (!existsSync(built)) throw new Error(`${built} is not built; run npm run build (npm test does)`);
  }
}
