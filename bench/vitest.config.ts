import { defineConfig } from "vitest/config";
import { TEST_STATE_DIR } from "../vitest.config.js";

// Benchmarks run on demand (`npm run bench`), never in `npm test`: they measure speed and
// memory on the real replica and print what they measured; they assert only that the
// measurement itself worked, never a time. Results: artifacts/bench/<name>.json.
export default defineConfig({
  test: {
    name: "bench",
    include: ["bench/**/*.bench.ts"],
    globalSetup: ["tests/support/integration-setup.ts"],
    env: { FAULTLINE_STATE_DIR: TEST_STATE_DIR },
    fileParallelism: false,
    testTimeout: 1_800_000,
    hookTimeout: 600_000,
  },
});
