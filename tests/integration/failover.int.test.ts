import { describe, expect, it } from "vitest";
import { findLeftovers } from "../../src/recovery/recover.js";
import { pct, runShort } from "../support/experiment.js";
import { useReplica } from "../support/replica.js";

const NAME = "it-failover";

describe("failover timing, abort conditions and the score on the real replica", () => {
  const replica = useReplica(NAME);

  it("edge failover: time to detect matches HAProxy's health-check settings; failover and score are reported", async () => {
    const run = await runShort(
      replica(),
      "  - { fault: node-kill, target: { role: edge, pick: 1 }, for: 12s }",
      {
        rate: "60/s",
        seed: 11,
        checks:
          "[{ name: errors under 1%, metric: errors.rate, below: 1% }, { metric: latency.p99, below: 300ms }]",
      },
    );
    const { intervalMs, timeoutMs, fall } = replica().topology.healthCheck;
    const slowest = fall * (intervalMs + timeoutMs) + intervalMs;
    const [detection] = run.evaluation.timings.detection;
    const score = run.evaluation.score;
    console.log(
      `[failover] ${detection?.service} killed: detected after ${detection?.detectMs} ms (checks every ${intervalMs} ms, timeout ${timeoutMs} ms, fall ${fall}: expected between ${(fall - 1) * intervalMs} and ${slowest} ms); errors under 1% again after ${run.evaluation.timings.failoverMs} ms; inject errors ${pct(run.stats("inject").errorRate)}; verdict ${run.evaluation.verdict}; score ${score?.value} = ${score?.formula}`,
    );
    // HAProxy's checks cross Toxiproxy, which accepts the connection and then dials the dead
    // edge. When that dial fails at once, `fall` failed checks take (fall - 1) to fall
    // intervals; when it hangs (the dead container's address no longer answers), each check
    // runs into the check timeout: fall x (interval + timeout), plus one interval of slack for
    // the check schedule and the probe's 250 ms polling.
    expect(detection?.detectMs).not.toBeNull();
    expect(detection?.detectMs ?? 0).toBeGreaterThanOrEqual((fall - 1) * intervalMs - 250);
    expect(detection?.detectMs ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(slowest);
    expect(run.evaluation.timings.failoverMs).not.toBeNull();
    expect(run.evaluation.timings.failoverMs ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(slowest + 2000);
    expect(["passed", "degraded"]).toContain(run.evaluation.verdict);
    expect(score?.value ?? 0).toBeGreaterThan(50);
    // The budget component, recomputed from the inject phase's measured requests and errors.
    const inject = run.stats("inject");
    expect(score?.components.find((c) => c.name === "budget")?.value).toBeCloseTo(
      Math.max(0, 1 - inject.errors / (0.01 * inject.count)),
      3,
    );
  });

  it("an abort condition trips on a brownout and reverts every fault within one evaluation tick", async () => {
    const run = await runShort(replica(), "  - { fault: origin-brownout, errors: 60%, for: 60s }", {
      rate: "50/s",
      path: "/api/items",
      extra: "abort: [{ name: too many errors, metric: errors.rate, above: 30%, for: 2s }]",
    });
    const aborted = run.events.find((e) => e.type === "aborted");
    const reverted = run.events.find((e) => e.type === "fault-reverted");
    const applied = run.events.find((e) => e.type === "fault-applied");
    const reactionMs = aborted && reverted ? Date.parse(reverted.at) - Date.parse(aborted.at) : Number.NaN;
    const heldMs = applied && reverted ? Date.parse(reverted.at) - Date.parse(applied.at) : Number.NaN;
    console.log(
      `[abort] breached ${aborted?.type === "aborted" ? pct(aborted.value) : "?"} errors over 2 s; fault reverted ${reactionMs} ms after the breach was seen (fault held ${heldMs} ms of its 60 s); verdict ${run.evaluation.verdict} (exit ${run.evaluation.exitCode}), score ${run.evaluation.score?.value}`,
    );
    expect(run.evaluation.verdict).toBe("aborted");
    expect(run.evaluation.exitCode).toBe(6);
    expect(reactionMs).toBeLessThan(250);
    expect(heldMs).toBeLessThan(10_000);
    expect(await findLeftovers(replica())).toEqual([]);
  });
});
