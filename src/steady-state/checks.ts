import type { Check, CheckPhase, Comparator, MetricName } from "../experiments/schema.js";
import type { WindowStats } from "./metrics.js";

export interface CheckResult {
  check: string;
  metric: MetricName;
  comparator: Comparator;
  threshold: number;
  /** Measured value (milliseconds for latency, a fraction for rates); undefined: no data. */
  value: number | undefined;
  /** undefined when the window produced no data: never counted as a pass or a fail. */
  ok: boolean | undefined;
  /** False when the check does not apply in this window's phase. */
  applies?: boolean;
  /** A breach within the check's allowFor: reported, but counted as held. */
  tolerated?: boolean;
}

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

export function metricValue(metric: MetricName, stats: WindowStats): number | undefined {
  switch (metric) {
    case "errors.rate":
      return stats.errorRate;
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

export function evaluateCheck(check: Check, stats: WindowStats, phase?: CheckPhase): CheckResult {
  if (phase && !check.phases.includes(phase)) {
    return {
      check: check.name,
      metric: check.metric,
      comparator: check.comparator,
      threshold: check.threshold,
      value: undefined,
      ok: undefined,
      applies: false,
    };
  }
  const value = metricValue(check.metric, stats);
  return {
    check: check.name,
    metric: check.metric,
    comparator: check.comparator,
    threshold: check.threshold,
    value,
    ok:
      value === undefined
        ? undefined
        : compare(check.comparator, value, check.threshold, check.thresholdHigh),
  };
}

export function formatValue(metric: MetricName, value: number | undefined): string {
  if (value === undefined) return "no data";
  if (metric.startsWith("latency.")) return value < 10 ? `${value.toFixed(1)}ms` : `${Math.round(value)}ms`;
  return `${(value * 100).toFixed(value < 0.01 && value > 0 ? 2 : 1)}%`;
}
