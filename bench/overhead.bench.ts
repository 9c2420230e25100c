import { performance } from "node:perf_hooks";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parseLocated } from "../src/experiments/loader.js";
import { plannedSeconds, planOf, runExperiment } from "../src/experiments/runner.js";
import { experimentSchema } from "../src/experiments/schema.js";
import { type Replica, replicaDown, replicaUp } from "../src/replica/replica.js";
import { tempDir } from "../tests/support/temp.js";
import { ms, record, summarize } from "./support.js";

// Run overhead on a warm replica: the wall time of a whole run (preflight, load start, the
// phases, every revert, the verdict, the four reports) minus the time its phases declare.
// Target: at most 5 s.

const NAME = "bench-overhead";
let replica: Replica;

beforeAll(async () => {
  replica = (await replicaUp({ replica: NAME })).replica;
});
afterAll(async () => {
  await replicaDown(NAME);
});

it("wall time minus declared phase time", async () => {
  const yaml = `version: 1
name: overhead
load: { rate: 50/s, warmup: 2s, timeout: 2s }
steadyState:
  window: 2s
  baseline: 4s
  recover: 4s
  verify: 4s
  checks: [{ metric: errors.rate, below: 5% }, { promql: "haproxy_backend_active_servers{proxy=\\"edges\\"}", atLeast: 2 }]
method:
  - { fault: latency, target: edge-1, latency: 50ms, for: 4s }
`;
  const { data, locate } = parseLocated("overhead.yaml", yaml, experimentSchema);
  const declared = plannedSeconds(planOf(data)) * 1000;
  const overheads: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    const result = await runExperiment({
      loaded: { file: "overhead.yaml", experiment: data, locate, source: yaml },
      replica,
      runsDir: tempDir("faultline-bench-runs-"),
    });
    overheads.push(performance.now() - started - declared);
    expect(result.evaluation.verdict).not.toBe("errored");
  }
  const s = summarize(overheads);
  record("run-overhead", {
    declaredMs: declared,
    overheadMedianMs: ms(s.median),
    overheadMaxMs: ms(s.max),
    runs: s.n,
    targetMs: 5000,
  });
});
