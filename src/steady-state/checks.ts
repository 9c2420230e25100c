import {
  type CheckPhase,
  type Comparator,
  type Condition,
  type LoadMetric,
  type MetricName,
  unitOf,
} from "../experiments/check-schema.js";
import { formatDuration } from "../units.js";
import { type MetricsBucket, type WindowStats, windowStats } from "./metrics.js";

export interface CheckResult {
  check: string;
  metric: MetricName | string;
  comparator: Comparator | string;
  threshold: number;
  /** Measured value (milliseconds, a fraction, per second, or a probe's number); undefined: no data. */
  value: number | undefined;
  /** undefined when the window produced no data: never counted as a pass or a fail. */
  ok: boolean | undefined;
  /** False when the check does not apply in this window's phase. */
  applies?: boolean;
  /** A breach within the check's allowFor: reported, but counted as held. */
  tolerated?: boolean;
  /** Why there is no data, or what the failing probe samples said. */
  detail?: string;
}

/** One sample of a probe (PromQL, HTTP, command), as the journal records it. */
export interface ProbeSample {
  /** The check (its name) or abort condition (`abort:` and its name) the sample is for. */
  key: string;
  /** Seconds since the load started (fractional), when the sample was taken. */
  second: number;
  /** A PromQL value; TLS probes: time until the served certificate expires (ms). */
  value?: number | undefined;
  /** HTTP and command probes: whether the answer met the expectation. */
  ok?: boolean | undefined;
  /** HTTP and DNS probes: time to the answer (or to the timeout); TLS probes: the handshake's time. */
  latencyMs?: number | undefined;
  /** TLS probes: the negotiated protocol and ALPN; DNS probes: the addresses and TTLs. */
  note?: string | undefined;
  error?: string | undefined;
}

/** Everything a run measured: per-second load buckets and probe samples. */
export interface Measurements {
  buckets: readonly MetricsBucket[];
  probes: readonly ProbeSample[];
  /** Multi-PoP replicas: each PoP's edges (for traffic.share). */
  pops?: Readonly<Record<string, readonly string[]>>;
}

export const probeKey = (kind: "check" | "abort", name: string) =>
  kind === "check" ? name : `abort:${name}`;

/** The parts of a result (live or read back from a journal) that decide its status. */
interface ResultStatus {
  ok?: boolean | undefined;
  applies?: boolean | undefined;
  tolerated?: boolean | undefined;
}

/** Held: not applicable, held, or a tolerated breach. */
export const holds = (r: ResultStatus) => r.applies === false || r.ok === true || r.tolerated === true;
/** Broke: applicable, on the wrong side of its threshold, beyond its allowance. */
export const breaks = (r: ResultStatus) => r.applies !== false && r.ok === false && r.tolerated !== true;
/** No data: applicable, but the window had nothing to measure. */
export const lacksData = (r: ResultStatus) => r.applies !== false && r.ok === undefined;

export function loadMetricValue(metric: LoadMetric, stats: WindowStats): number | undefined {
  switch (metric) {
    case "errors.rate":
      return stats.errorRate;
    case "throughput":
      return stats.throughput;
    case "latency.avg":
      return stats.latency?.avg;
    case "latency.p50":
      return stats.latency?.p50;
    case "latency.p90":
      return stats.latency?.p90;
    case "latency.p95":
      return stats.latency?.p95;
    case "latency.p99":
      return stats.latency?.p99;
    case "latency.max":
      return stats.latency?.max;
    case "status.2xx":
    case "status.3xx":
    case "status.4xx":
    case "status.5xx":
      return stats.count ? (stats.statuses[metric.slice("status.".length)] ?? 0) / stats.count : undefined;
  }
}

export function compare(comparator: Comparator, value: number, threshold: number, high = threshold): boolean {
  switch (comparator) {
    case "between":
      return value >= threshold && value <= high;
    case "below":
      return value < threshold;
    case "above":
      return value > threshold;
    case "atMost":
      return value <= threshold;
    case "atLeast":
      return value >= threshold;
  }
}

/** The value furthest on the wrong side of the condition's threshold (or closest to it). */
export function worstOf(values: readonly number[], condition: Condition): number | undefined {
  if (values.length === 0) return undefined;
  const { comparator, threshold } = condition;
  const high = condition.thresholdHigh ?? threshold;
  if (comparator === "below" || comparator === "atMost") return Math.max(...values);
  if (comparator === "above" || comparator === "atLeast") return Math.min(...values);
  const outside = (v: number) => Math.max(threshold - v, v - high, 0);
  return values.reduce((worst, v) => (outside(v) > outside(worst) ? v : worst));
}

interface Measured {
  value: number | undefined;
  detail?: string;
}

/** A probe's value over a window's samples: see docs/design.md ("Probes"). */
export function probeValue(condition: Condition, samples: readonly ProbeSample[]): Measured {
  const probe = condition.probe;
  const failed = samples.filter((s) => s.error !== undefined);
  const lastError = failed[failed.length - 1]?.error;
  const note = failed.length
    ? { detail: `${failed.length} of ${samples.length} probe samples failed, last: ${lastError}` }
    : {};
  if (!probe || samples.length === 0) return { value: undefined, detail: "no probe sample in this window" };
  switch (probe.kind) {
    case "promql":
      return {
        value: worstOf(
          samples.flatMap((s) => (s.value === undefined ? [] : [s.value])),
          condition,
        ),
        ...note,
      };
    case "http":
      if (probe.measure === "latency") {
        return {
          value: worstOf(
            samples.flatMap((s) => (s.latencyMs === undefined ? [] : [s.latencyMs])),
            condition,
          ),
          ...note,
        };
      }
      return { value: samples.filter((s) => s.ok === true).length / samples.length, ...note };
    case "command":
      return { value: samples.filter((s) => s.ok === true).length / samples.length, ...note };
    case "tls":
      return { value: tlsValue(probe.measure, probe.percentile, condition, samples), ...note };
    case "dns":
      if (probe.measure === "latency")
        return {
          value: percentileOf(
            samples.flatMap((s) => (s.latencyMs === undefined ? [] : [s.latencyMs])),
            probe.percentile,
          ),
          ...note,
        };
      return { value: samples.filter((s) => s.ok === true).length / samples.length, ...note };
  }
}

/** Nearest-rank percentile of a few values (a window holds a handful of probe samples). */
export function percentileOf(values: readonly number[], percentile: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((percentile / 100) * sorted.length))) - 1];
}

function tlsValue(
  measure: "success" | "handshake" | "expiry",
  percentile: number,
  condition: Condition,
  samples: readonly ProbeSample[],
): number | undefined {
  if (measure === "success") return samples.filter((s) => s.ok === true).length / samples.length;
  if (measure === "handshake")
    return percentileOf(
      samples.flatMap((s) => (s.latencyMs === undefined ? [] : [s.latencyMs])),
      percentile,
    );
  return worstOf(
    samples.flatMap((s) => (s.value === undefined ? [] : [s.value])),
    condition,
  );
}

export function samplesIn(
  probes: readonly ProbeSample[],
  key: string,
  interval: { start: number; end: number },
): ProbeSample[] {
  return probes.filter((s) => s.key === key && s.second >= interval.start && s.second < interval.end);
}

/**
 * Measures conditions over one interval (seconds since the load started). Load statistics are
 * computed once for all load-metric conditions of the same scope (all requests, or one).
 */
export function measureConditions(
  conditions: readonly Condition[],
  measurements: Measurements,
  interval: { start: number; end: number },
  keyOf: (condition: Condition) => string,
): Measured[] {
  const stats = new Map<string, WindowStats>();
  return conditions.map((condition) => {
    if (condition.probe) {
      return probeValue(condition, samplesIn(measurements.probes, keyOf(condition), interval));
    }
    const inWindow = measurements.buckets.filter(
      (b) => b.second >= interval.start && b.second < interval.end,
    );
    if (condition.metric === "traffic.share")
      return { value: popShare(inWindow, measurements.pops?.[condition.pop ?? ""]) };
    const scope = condition.request ?? "";
    let scoped = stats.get(scope);
    if (!scoped) {
      scoped = windowStats(inWindow, undefined, condition.request);
      stats.set(scope, scoped);
    }
    return { value: loadMetricValue(condition.metric as LoadMetric, scoped) };
  });
}

/** The share of a window's requests that the PoP's edges served; undefined without requests. */
function popShare(
  buckets: readonly MetricsBucket[],
  edges: readonly string[] | undefined,
): number | undefined {
  const total = buckets.reduce((n, b) => n + b.all.count, 0);
  if (!edges || total === 0) return undefined;
  return buckets.reduce((n, b) => n + edges.reduce((m, e) => m + (b.byEdge[e]?.count ?? 0), 0), 0) / total;
}

export function judge(
  condition: Condition & { phases?: readonly CheckPhase[] },
  measured: Measured,
  phase?: CheckPhase,
): CheckResult {
  const base = {
    check: condition.name,
    metric: condition.metric,
    comparator: condition.comparator,
    threshold: condition.threshold,
  };
  if (phase && condition.phases && !condition.phases.includes(phase)) {
    return { ...base, value: undefined, ok: undefined, applies: false };
  }
  const { value } = measured;
  return {
    ...base,
    value,
    ok:
      value === undefined
        ? undefined
        : compare(condition.comparator, value, condition.threshold, condition.thresholdHigh),
    ...(measured.detail === undefined ? {} : { detail: measured.detail }),
  };
}

export function formatValue(metric: string, value: number | undefined): string {
  if (value === undefined) return "no data";
  switch (unitOf(metric)) {
    case "duration":
      return Math.abs(value) < 10
        ? `${value.toFixed(1)}ms`
        : Math.abs(value) < 10_000
          ? `${Math.round(value)}ms`
          : formatDuration(value);
    case "fraction":
      return `${(value * 100).toFixed(value < 0.01 && value > 0 ? 2 : 1)}%`;
    case "rate":
      return `${value.toFixed(1)}/s`;
    case "number":
      return Number.isInteger(value) ? String(value) : value.toPrecision(4);
  }
}
