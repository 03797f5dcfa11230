import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
/** What ships (scripts/build.mjs): the launcher, and what it runs node on: start.cjs, which loads the bundle with its code cache. */
export const launcherPath = join(repoRoot, "dist", "ageboot");
export const startPath = join(repoRoot, "dist", "start.cjs");
export const codeCachePath = join(repoRoot, "dist", "cli.cache");
/**
 * The test build (scripts/build.mjs: dist-test/), the same with the crash tests'
 * fault-injection hooks compiled in (src/fault-injection.ts): runs that set
 * AGEBOOT_TEST_KILL_AFTER_STEP or AGEBOOT_TEST_COUNT_STEPS need it, since dist/ has none.
 */
export const testBuildLauncherPath = join(repoRoot, "dist-test", "ageboot");
export const testBuildStartPath = join(repoRoot, "dist-test", "start.cjs");
