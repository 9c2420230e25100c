import type { Check, Comparator, MetricName } from "../experiments/schema.js";
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
}

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

export function compare(comparator: Comparator, value: number, threshold: number): boolean {
  switch (comparator) {
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

export function evaluateCheck(check: Check, stats: WindowStats): CheckResult {
  const value = metricValue(check.metric, stats);
  return {
    check: check.name,
    metric: check.metric,
    comparator: check.comparator,
    threshold: check.threshold,
    value,
    ok: value === undefined ? undefined : compare(check.comparator, value, check.threshold),
  };
}

export function formatValue(metric: MetricName, value: number | undefined): string {
  if (value === undefined) return "no data";
  if (metric.startsWith("latency.")) return value < 10 ? `${value.toFixed(1)}ms` : `${Math.round(value)}ms`;
  return `${(value * 100).toFixed(value < 0.01 && value > 0 ? 2 : 1)}%`;
}
