import { performance } from "node:perf_hooks";
import { expect, it } from "vitest";
import { BucketAggregator } from "../src/steady-state/metrics.js";
import { parseVegetaLine } from "../src/steady-state/vegeta.js";
import { ms, record } from "./support.js";

// Metric ingest: the load driver's output for a 10-minute run at 1,000 requests/s (600,000
// results as faultline-load writes them, with edge, cache status and the request's name),
// parsed and folded into one-second buckets the way a run does. Reports samples per second
// and the peak memory of this process. Target: at least 200,000 samples/s.

const RATE = 1000;
const SECONDS = 600;

function vegetaLine(startedAt: number, i: number): string {
  const status = i % 97 === 0 ? 503 : 200;
  return JSON.stringify({
    timestamp: new Date(startedAt).toISOString(),
    latency: 1_500_000 + ((i * 7919) % 4_000_000),
    code: status,
    error: status === 200 ? "" : "503 Service Unavailable",
    edge: `edge-${(i % 3) + 1}`,
    cache: "HIT",
    request: i % 4 === 0 ? "api" : "page",
  });
}

it("ingests a 10-minute run at 1,000 requests/s", () => {
  const t0 = Date.parse("2026-11-28T12:00:00Z");
  // Lines are produced a second at a time, as they stream in from vegeta, not held in memory.
  let peakRss = process.memoryUsage().rss;
  const baseRss = peakRss;
  const aggregator = new BucketAggregator(t0, 0);
  let parsed = 0;
  let buckets = 0;
  let busyMs = 0;
  for (let second = 0; second < SECONDS; second++) {
    const lines: string[] = [];
    for (let k = 0; k < RATE; k++) lines.push(vegetaLine(t0 + second * 1000 + k, second * RATE + k));
    const started = performance.now();
    for (const line of lines) {
      const sample = parseVegetaLine(line);
      if (sample) {
        aggregator.add(sample);
        parsed++;
      }
    }
    buckets += aggregator.releaseUpTo(second).length;
    busyMs += performance.now() - started;
    if (second % 30 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  buckets += aggregator.releaseUpTo(SECONDS).length;
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  expect(parsed).toBe(RATE * SECONDS);
  expect(buckets).toBe(SECONDS);
  record("ingest", {
    samples: parsed,
    seconds: SECONDS,
    busyMs: ms(busyMs),
    samplesPerSecond: Math.round(parsed / (busyMs / 1000)),
    peakRssMiB: ms(peakRss / 2 ** 20),
    rssGrowthMiB: ms((peakRss - baseRss) / 2 ** 20),
    targetSamplesPerSecond: 200_000,
  });
});
