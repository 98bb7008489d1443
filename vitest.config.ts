import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    reporters: ["default", "./test/support/summary-reporter.ts"],
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts", "controllers/**/*.test.ts", "src/**/*.test.ts"],
          // Some tests run bin/berth.js, which runs the compiled dist/.
          globalSetup: ["test/support/build.ts"],
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/support/build.ts", "test/integration/global-setup.ts"],
          // One private engine serves every suite; suites own their names but share its CPU.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
