import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["{core,webhook,watcher,cli}/**/*.test.ts"],
          // property tests run hundreds of cases: leave room for a loaded machine
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          globalSetup: ["test/support/globalSetup.ts"],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
    coverage: {
      provider: "v8",
      include: ["core/**", "webhook/**", "watcher/**", "cli/**"],
      exclude: ["**/*.test.ts"],
    },
  },
});
