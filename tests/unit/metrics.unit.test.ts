import { describe, expect, it } from "vitest";
import { BucketAggregator, windowStats } from "../../src/steady-state/metrics.js";
import type { Sample } from "../../src/steady-state/sample.js";

const t0 = 1_700_000_000_000;
const sample = (offsetMs: number, latencyMs: number, extra: Partial<Sample> = {}): Sample => ({
  startedAt: t0 + offsetMs,
  latencyMs,
  status: 200,
  error: "",
  edge: undefined,
  ...extra,
});

describe("BucketAggregator", () => {
  it("releases a second only once its requests have settled", () => {
    const aggregator = new BucketAggregator(t0, 2000);
    aggregator.add(sample(100, 5));
    aggregator.add(sample(1100, 5));
    expect(aggregator.release(t0 + 2999)).toEqual([]);
    const released = aggregator.release(t0 + 3000);
    expect(released.map((b) => [b.second, b.all.count])).toEqual([[0, 1]]);
    expect(aggregator.release(t0 + 4000).map((b) => [b.second, b.all.count])).toEqual([[1, 1]]);
  });

  it("emits empty seconds, so a window with no traffic is visible as no data", () => {
    const aggregator = new BucketAggregator(t0, 0);
    aggregator.add(sample(2500, 5));
    const released = aggregator.releaseUpTo(3);
    expect(released.map((b) => b.all.count)).toEqual([0, 0, 1]);
  });

  it("counts a sample for an already released second as late, not silently", () => {
    const aggregator = new BucketAggregator(t0, 0);
    aggregator.releaseUpTo(2);
    aggregator.add(sample(500, 5));
    expect(aggregator.late).toBe(1);
  });

  it("keeps per-edge statistics and status classes", () => {
    const aggregator = new BucketAggregator(t0, 0);
    aggregator.add(sample(10, 5, { edge: "edge-1" }));
    aggregator.add(sample(20, 9, { edge: "edge-2", status: 503 }));
    aggregator.add(sample(30, 2000, { status: 0, error: "timeout" }));
    const [bucket] = aggregator.releaseUpTo(1);
    expect(bucket?.all).toMatchObject({ count: 3, errors: 2, statuses: { "2xx": 1, "5xx": 1, none: 1 } });
    expect(Object.keys(bucket?.byEdge ?? {}).sort()).toEqual(["edge-1", "edge-2"]);
  });
});

describe("windowStats", () => {
  it("merges seconds and computes percentiles within HDR precision", () => {
    const aggregator = new BucketAggregator(t0, 0);
    // 1..100 ms spread over two seconds.
    for (let i = 1; i <= 100; i++) aggregator.add(sample(i < 50 ? 10 : 1500, i));
    const stats = windowStats(aggregator.releaseUpTo(2));
    expect(stats.count).toBe(100);
    expect(stats.throughput).toBe(50);
    expect(stats.latency?.p50).toBeCloseTo(50, 0);
    expect(stats.latency?.p90).toBeCloseTo(90, 0);
    expect(stats.latency?.p99).toBeCloseTo(99, 0);
    expect(stats.latency?.max).toBeCloseTo(100, 0);
    expect(stats.errorRate).toBe(0);
  });

  it("filters by edge and reports no data as undefined", () => {
    const aggregator = new BucketAggregator(t0, 0);
    aggregator.add(sample(10, 150, { edge: "edge-1" }));
    aggregator.add(sample(20, 1, { edge: "edge-2" }));
    const buckets = aggregator.releaseUpTo(1);
    expect(windowStats(buckets, "edge-1").latency?.p50).toBeCloseTo(150, 0);
    const none = windowStats(buckets, "edge-9");
    expect(none.latency).toBeUndefined();
    expect(none.errorRate).toBeUndefined();
  });
});
