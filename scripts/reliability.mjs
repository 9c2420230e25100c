#!/usr/bin/env node
// The long reliability run: `npm run reliability -- --trials 50` runs the harness
// (tests/reliability) with that many trials of each kind. Without --trials: 10.
import { spawnSync } from "node:child_process";

const at = process.argv.indexOf("--trials");
const trials = at >= 0 ? Number(process.argv[at + 1]) : 10;
if (!Number.isInteger(trials) || trials < 1) {
  console.error("error: --trials expects a whole number of at least 1");
  process.exit(2);
}
const result = spawnSync(
  "npx",
  ["vitest", "run", "--project", "integration", "tests/reliability/"],
  { stdio: "inherit", env: { ...process.env, FAULTLINE_TRIALS: String(trials) } },
);
process.exit(result.status ?? 1);
