import { spawnSync } from "node:child_process";
import { performance } from "node:perf_hooks";
import { expect, it } from "vitest";
import { CLI } from "../tests/support/cli.js";
import { ms, record, summarize } from "./support.js";

// CLI cold start: `faultline --help` from a fresh Node process, as a user or a CI step pays it.
// Target: at most 0.4 s (median).

it("faultline --help, cold", () => {
  const times: number[] = [];
  for (let i = 0; i < 21; i++) {
    const started = performance.now();
    const result = spawnSync(process.execPath, [CLI, "--help"], { encoding: "utf8" });
    times.push(performance.now() - started);
    expect(result.status).toBe(0);
  }
  // The first start warms the file cache; it is reported, not counted.
  const [first, ...rest] = times;
  const stats = summarize(rest);
  const version = spawnSync(process.execPath, [CLI, "--version"], { encoding: "utf8" });
  record("cold-start", {
    command: "faultline --help",
    firstMs: ms(first ?? 0),
    medianMs: ms(stats.median),
    p90Ms: ms(stats.p90),
    minMs: ms(stats.min),
    runs: stats.n,
    version: version.stdout.trim(),
    targetMs: 400,
  });
});
