import { performance } from "node:perf_hooks";
import { afterAll, expect, it } from "vitest";
import { experimentSchema } from "../src/experiments/schema.js";
import { parseLocated } from "../src/format/located-yaml.js";
import { replicaDown, replicaUp } from "../src/replica/replica.js";
import { runExperiment } from "../src/run/runner.js";
import { tempDir } from "../tests/support/temp.js";
import { ms, record } from "./support.js";

// Scale: a 50-edge replica (55 containers, 51 Toxiproxy links) up on this machine, and an
// experiment killing 10% of its edges (5, chosen at random) under load.

const NAME = "bench-scale";

afterAll(async () => {
  await replicaDown(NAME);
});

it("50 edges up, and 10% of them killed under load", async () => {
  const upStarted = performance.now();
  const up = await replicaUp({ replica: NAME, edges: 50, timeoutMs: 900_000 });
  const upMs = performance.now() - upStarted;
  const yaml = `version: 1
name: scale-kill-10pct
load: { rate: 200/s, warmup: 3s, timeout: 2s }
steadyState:
  window: 5s
  baseline: 10s
  recover: 15s
  verify: 10s
  checks: [{ metric: errors.rate, below: 5% }, { metric: latency.p99, below: 500ms }]
method:
  - { fault: node-kill, target: { role: edge, percent: 10% }, for: 20s }
`;
  const { data, locate } = parseLocated("scale.yaml", yaml, experimentSchema);
  const runStarted = performance.now();
  const result = await runExperiment({
    loaded: { file: "scale.yaml", experiment: data, locate, source: yaml },
    replica: up.replica,
    runsDir: tempDir("faultline-bench-runs-"),
  });
  const runMs = performance.now() - runStarted;
  const detection = result.evaluation.timings.detection;
  const downStarted = performance.now();
  await replicaDown(NAME);
  const downMs = performance.now() - downStarted;
  expect(detection).toHaveLength(5);
  record("scale", {
    edges: 50,
    containers: up.replica.topology.services.length,
    links: up.replica.topology.links.length,
    upMs: ms(upMs),
    downMs: ms(downMs),
    runMs: ms(runMs),
    verdict: result.evaluation.verdict,
    score: result.evaluation.score?.value,
    killed: detection.map((d) => d.service),
    detectMs: detection.map((d) => d.detectMs),
    failoverMs: result.evaluation.timings.failoverMs,
    cliRssMiB: ms(process.memoryUsage().rss / 2 ** 20),
  });
});
