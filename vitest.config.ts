import { defineConfig } from "vitest/config";

/**
 * Three tiers (README, Development):
 * - unit: pure logic in process; no root, no external tools, no dist/ build.
 * - privileged: root in a private mount namespace (scripts/run-tests.sh),
 *   real mounts and users, the reference age and ssh-keygen, the built CLI.
 * - system: the unit booted under systemd-nspawn, and systemd's checks of it.
 * Only the last two need the tools check and the namespace set-up.
 */
const needsRootAndTools = (tools: string) => ({
  globalSetup: ["test/helpers/run-temp-dir.ts", tools, "test/helpers/private-namespace.ts"],
  testTimeout: 60_000,
  hookTimeout: 120_000,
});

export default defineConfig({
  test: {
    experimental: { fsModuleCache: true },
    projects: [
      // One module registry per worker thread: the unit tests share no state, and loading
      // age-encryption, sshpk and pino once per file instead of once per worker was most of the tier's time.
      // Two workers even on two cores, where vitest's default is one: the files wait on child
      // processes (flock, getent) and on the main thread's transforms, and run in parallel.
      // A project's own maxWorkers needs its own groupOrder: the unit files run first.
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          globalSetup: ["test/helpers/run-temp-dir.ts"],
          pool: "threads",
          isolate: false,
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      { test: { name: "privileged", include: ["test/privileged/**/*.test.ts"], sequence: { groupOrder: 1 }, ...needsRootAndTools("test/helpers/require-privileged-tools.ts") } },
      { test: { name: "system", include: ["test/system/**/*.test.ts"], sequence: { groupOrder: 1 }, ...needsRootAndTools("test/helpers/require-system-tools.ts") } },
    ],
  },
});
