import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { afterAll, beforeAll, expect, it } from "vitest";
import { experimentSchema } from "../src/experiments/schema.js";
import { parseLocated } from "../src/format/located-yaml.js";
import { waitUntil } from "../src/lifecycle/wait.js";
import { type Replica, replicaDown, replicaUp } from "../src/replica/replica.js";
import { plannedSeconds, planOf, runExperiment } from "../src/run/runner.js";
import { tempDir } from "../tests/support/temp.js";
import { ms, record, summarize } from "./support.js";

// Run overhead on a warm replica: the wall time of a whole run (preflight, load start, the
// phases, every revert, the verdict, the four reports) minus the time its phases declare.
// Target: at most 5 s.

const NAME = "bench-overhead";
let replica: Replica;

beforeAll(async () => {
  replica = (await replicaUp({ replica: NAME })).replica;
  // Warm means Prometheus has scraped once: a PromQL check's preflight waits for that, and on
  // a replica just created it takes seconds (measured 4.5 s: the first run's whole excess).
  const started = performance.now();
  await waitUntil(
    async () => {
      const response = await fetch(`${replica.endpoints.prometheus}/api/v1/label/__name__/values`);
      const body = (await response.json()) as { data?: string[] };
      return body.data?.includes("up")
        ? { done: true, value: undefined }
        : { done: false, reason: "no scrape yet" };
    },
    { description: "Prometheus's first scrape", timeoutMs: 30_000, intervalMs: 200 },
  );
  console.log(
    `[bench run-overhead] Prometheus's first scrape came ${ms(performance.now() - started)} ms after replica up`,
  );
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
  const plan = planOf(data);
  const overheads: number[] = [];
  const breakdowns: Record<string, number>[] = [];
  for (let i = 0; i < 5; i++) {
    const startedAt = Date.now();
    const started = performance.now();
    const result = await runExperiment({
      loaded: { file: "overhead.yaml", experiment: data, locate, source: yaml },
      replica,
      runsDir: tempDir("faultline-bench-runs-"),
    });
    overheads.push(performance.now() - started - declared);
    breakdowns.push(breakdown(result.journalPath, startedAt, Date.now(), plan));
    expect(result.evaluation.verdict).not.toBe("errored");
  }
  const s = summarize(overheads);
  record("run-overhead", {
    declaredMs: declared,
    overheadMedianMs: ms(s.median),
    overheadMaxMs: ms(s.max),
    overheadMs: overheads.map(ms),
    runs: s.n,
    targetMs: 5000,
    breakdownMs: breakdowns,
  });
});

/**
 * Where one run's overhead went, from its journal's timestamps: before the run's first event
 * (replica checks, leftovers, probe preflight), the wait for the baseline's requests to settle
 * before its verdict, any other slip of the phases against their declared lengths, the end
 * (stopping the load and waiting for requests in flight, reverting, the verdict), and writing
 * the reports.
 */
function breakdown(
  journalPath: string,
  startedAt: number,
  endedAt: number,
  plan: ReturnType<typeof planOf>,
): Record<string, number> {
  const events = readFileSync(journalPath, "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { type: string; at: string; phase?: string });
  const at = (type: string, phase?: string) => {
    const event = events.find((e) => e.type === type && (phase === undefined || e.phase === phase));
    return event ? Date.parse(event.at) : Number.NaN;
  };
  const baselineEnd = at("phase", "baseline") + plan.baselineSeconds * 1000;
  const verifyEnd = at("phase", "verify") + plan.verifySeconds * 1000;
  const phasesWall = verifyEnd - at("phase", "warmup");
  const declaredPhases = plannedSeconds(plan) * 1000;
  const baselineSettle = at("phase", "inject") - baselineEnd;
  return {
    beforeFirstEvent: at("run-started") - startedAt,
    startToWarmup: at("phase", "warmup") - at("run-started"),
    baselineSettle,
    otherPhaseSlip: phasesWall - declaredPhases - baselineSettle,
    endToVerdict: at("verdict") - verifyEnd,
    reports: endedAt - at("run-finished"),
  };
}
