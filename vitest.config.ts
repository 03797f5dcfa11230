import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/helpers/require-tools.ts", "test/helpers/private-namespace.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
