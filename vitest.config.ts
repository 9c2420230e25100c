import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineConfig } from "vitest/config";

/** Locks, ledgers and watchdog logs of test runs stay out of the user's state folder. */
export const TEST_STATE_DIR = join(tmpdir(), "faultline-test-state");

// Two tiers, visible in file names: *.unit.test.ts (no Docker, milliseconds) and
// *.int.test.ts (the real replica on a real Docker engine). Integration files run one at a
// time: they measure latency on a shared 2-core machine and must not disturb each other.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["tests/unit/**/*.unit.test.ts"],
        },
      },
      {
        test: {
          name: "integration",
          include: ["tests/integration/**/*.int.test.ts", "tests/reliability/**/*.rel.test.ts"],
          globalSetup: ["tests/support/integration-setup.ts"],
          env: { FAULTLINE_STATE_DIR: TEST_STATE_DIR },
          fileParallelism: false,
          testTimeout: 240_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
