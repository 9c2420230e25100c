import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { experimentSchema } from "../../src/experiments/schema.js";
import { parseLocated } from "../../src/format/located-yaml.js";
import type { JournalEvent } from "../../src/journal/journal.js";
import { runExperiment } from "../../src/run/runner.js";
import { type PromSample, promQuery, seriesAfterRun } from "../support/promql.js";
import { useReplica } from "../support/replica.js";
import { tempDir } from "../support/temp.js";

// Fault windows in Prometheus, on the real replica: while a run lasts, the replica's
// Prometheus scrapes the run's series from the load balancer (job faultline). The fault's
// series is there while the fault lasts and gone after it; its history draws the window.

const yaml = `version: 1
name: it-series
load: { rate: 30/s, warmup: 1s, timeout: 2s }
steadyState:
  window: 2s
  baseline: 4s
  recover: 2s
  verify: 2s
  checks:
    - { name: p99 under 100ms, metric: latency.p99, below: 100ms }
method:
  - { fault: latency, target: edge-1, latency: 150ms, at: 0s, for: 6s }
`;

describe("fault windows in Prometheus", () => {
  const replica = useReplica("it-series");

  const query = (promql: string) => promQuery(replica().endpoints.prometheus, promql);

  it("the active fault, the phase and each check are series while the run lasts, and gone after it", async () => {
    const { data, locate } = parseLocated("it-series.yaml", yaml, experimentSchema);
    let runId = "";
    let during: Promise<{ fault: PromSample[]; phase: PromSample[]; check: PromSample[] }> | undefined;
    const onEvent = (event: JournalEvent) => {
      if (event.type === "run-started") runId = event.runId;
      if (event.type === "fault-applied")
        during = (async () => {
          await new Promise((r) => setTimeout(r, 3000));
          const of = `{run="${runId}"}`;
          return {
            fault: await query(`faultline_fault_active${of} == 1`),
            phase: await query(`faultline_run_phase${of}`),
            check: await query(`faultline_check_ok${of}`),
          };
        })();
    };
    const started = Date.now() / 1000;
    const result = await runExperiment({
      loaded: { file: "it-series.yaml", experiment: data, locate, source: yaml },
      replica: replica(),
      runsDir: tempDir("faultline-runs-"),
      onEvent,
    });
    if (!during) throw new Error("the fault was never applied");
    const seen = await during;
    const { left: after, windowPoints: points } = await seriesAfterRun(
      replica().endpoints.prometheus,
      runId,
      started,
      3000,
    );
    console.log(
      `[series] during the fault: ${JSON.stringify(seen.fault.map((s) => s.metric))}; phase ${seen.phase[0]?.metric.phase}; check series ${seen.check.length}; 3 s after the run: ${after.length} series; the fault's window in history: ${points} one-second points for a 6 s fault; verdict ${result.evaluation.verdict}`,
    );
    expect(seen.fault).toHaveLength(1);
    expect(seen.fault[0]?.metric).toMatchObject({
      job: "faultline",
      fault: "f1",
      kind: "latency",
      target: "edge-1",
      experiment: "it-series",
    });
    expect(seen.phase[0]?.metric.phase).toBe("inject");
    expect(seen.check[0]?.metric.check).toBe("p99 under 100ms");
    expect(after).toEqual([]);
    expect(points).toBeGreaterThanOrEqual(5);
    expect(points).toBeLessThanOrEqual(8);
    const journalled = readFileSync(result.journalPath, "utf8");
    expect(journalled).toContain('"type":"series","where":"lb:8405/faultline/metrics"');
  });
});
