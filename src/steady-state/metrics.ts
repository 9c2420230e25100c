import * as hdr from "hdr-histogram-js";
import { isError, type Sample, statusClass } from "./sample.js";

// Samples are folded into one-second buckets as they stream in. A bucket keeps an HDR
// histogram of latencies (microseconds, 3 significant digits), so memory does not grow with
// the request rate, and buckets merge exactly into windows of any length. Buckets are what
// the journal stores: every later verdict or score is recomputed from them.

const HIGHEST_TRACKABLE_US = 3_600_000_000;

function newHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_TRACKABLE_US,
    numberOfSignificantValueDigits: 3,
  });
}

export interface BucketStats {
  count: number;
  errors: number;
  statuses: Record<string, number>;
  /** HDR histogram of latencies in microseconds, compressed and base64-encoded. */
  histogram: string;
}

export interface MetricsBucket {
  /** Seconds since the load started: this bucket holds requests sent in [second, second+1). */
  second: number;
  all: BucketStats;
  byEdge: Record<string, BucketStats>;
  /** A named mix: each request's own statistics, by its name. */
  byRequest?: Record<string, BucketStats>;
}

class Accumulator {
  count = 0;
  errors = 0;
  statuses: Record<string, number> = {};
  private readonly histogram = newHistogram();

  add(sample: Sample): void {
    this.count++;
    if (isError(sample)) this.errors++;
    const cls = statusClass(sample.status);
    this.statuses[cls] = (this.statuses[cls] ?? 0) + 1;
    this.histogram.recordValue(
      Math.min(HIGHEST_TRACKABLE_US, Math.max(1, Math.round(sample.latencyMs * 1000))),
    );
  }

  seal(): BucketStats {
    const stats = {
      count: this.count,
      errors: this.errors,
      statuses: this.statuses,
      histogram: hdr.encodeIntoCompressedBase64(this.histogram),
    };
    this.histogram.destroy();
    return stats;
  }
}

function accumulatorOf(map: Map<string, Accumulator>, key: string): Accumulator {
  let accumulator = map.get(key);
  if (!accumulator) {
    accumulator = new Accumulator();
    map.set(key, accumulator);
  }
  return accumulator;
}

const sealAll = (map: Map<string, Accumulator> | undefined): Record<string, BucketStats> =>
  Object.fromEntries([...(map ?? [])].map(([k, v]) => [k, v.seal()]));

/**
 * Folds samples into per-second buckets and releases a bucket once no request sent in it
 * can still be in flight (its end plus the request timeout).
 */
export class BucketAggregator {
  private readonly open = new Map<
    number,
    { all: Accumulator; byEdge: Map<string, Accumulator>; byRequest: Map<string, Accumulator> }
  >();
  private nextSecond = 0;
  /** Samples that arrived after their bucket was released (should stay 0). */
  late = 0;

  constructor(
    readonly startedAt: number,
    private readonly settleMs: number,
  ) {}

  add(sample: Sample): void {
    const second = Math.floor((sample.startedAt - this.startedAt) / 1000);
    if (second < 0) return;
    if (second < this.nextSecond) {
      this.late++;
      return;
    }
    let bucket = this.open.get(second);
    if (!bucket) {
      bucket = { all: new Accumulator(), byEdge: new Map(), byRequest: new Map() };
      this.open.set(second, bucket);
    }
    bucket.all.add(sample);
    if (sample.edge) accumulatorOf(bucket.byEdge, sample.edge).add(sample);
    if (sample.request) accumulatorOf(bucket.byRequest, sample.request).add(sample);
  }

  /** Buckets whose requests have all settled by `now`, in order, empty seconds included. */
  release(now: number): MetricsBucket[] {
    const settledBefore = Math.floor((now - this.startedAt - this.settleMs) / 1000);
    return this.releaseUpTo(settledBefore);
  }

  /** Every remaining bucket up to (excluding) `endSecond`; used once the load has stopped. */
  releaseUpTo(endSecond: number): MetricsBucket[] {
    const out: MetricsBucket[] = [];
    while (this.nextSecond < endSecond) {
      const second = this.nextSecond++;
      const bucket = this.open.get(second);
      this.open.delete(second);
      const empty = new Accumulator();
      const byRequest = sealAll(bucket?.byRequest);
      out.push({
        second,
        all: (bucket?.all ?? empty).seal(),
        byEdge: sealAll(bucket?.byEdge),
        ...(Object.keys(byRequest).length ? { byRequest } : {}),
      });
      if (bucket) empty.seal();
    }
    return out;
  }
}

export interface WindowStats {
  count: number;
  errors: number;
  errorRate: number | undefined;
  /** Requests per second sent in the window; undefined when the window has no seconds yet. */
  throughput: number | undefined;
  /** Requests by status class: 2xx, 3xx, 4xx, 5xx, and none (no response). */
  statuses: Record<string, number>;
  latency: { avg: number; p50: number; p90: number; p95: number; p99: number; max: number } | undefined;
}

/** Merges buckets (all traffic, one edge's, or one request's of a mix) into one window's statistics. */
export function windowStats(buckets: readonly MetricsBucket[], edge?: string, request?: string): WindowStats {
  const merged = newHistogram();
  let count = 0;
  let errors = 0;
  const statuses: Record<string, number> = {};
  for (const bucket of buckets) {
    const stats = request ? bucket.byRequest?.[request] : edge ? bucket.byEdge[edge] : bucket.all;
    if (!stats || stats.count === 0) continue;
    count += stats.count;
    errors += stats.errors;
    for (const [cls, n] of Object.entries(stats.statuses)) statuses[cls] = (statuses[cls] ?? 0) + n;
    const h = hdr.decodeFromCompressedBase64(stats.histogram);
    merged.add(h);
    h.destroy();
  }
  const ms = (percentile: number) => merged.getValueAtPercentile(percentile) / 1000;
  const result: WindowStats = {
    count,
    errors,
    errorRate: count ? errors / count : undefined,
    throughput: buckets.length ? count / buckets.length : undefined,
    statuses,
    latency: count
      ? {
          avg: merged.mean / 1000,
          p50: ms(50),
          p90: ms(90),
          p95: ms(95),
          p99: ms(99),
          max: merged.maxValue / 1000,
        }
      : undefined,
  };
  merged.destroy();
  return result;
}
