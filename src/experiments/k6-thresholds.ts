// k6's threshold syntax, read as Faultline's own checks. A k6 user writes
// `http_req_duration: ["p(95)<200"]` (milliseconds) or `http_req_failed: ["rate<0.01"]`; each
// expression maps to one load metric, one comparator and a threshold in the metric's unit.
// Only what maps exactly is accepted: everything else is refused, naming what is supported.

export const k6Metrics = ["http_req_duration", "http_req_failed", "http_reqs"] as const;
export type K6Metric = (typeof k6Metrics)[number];

export const K6_SUPPORTED =
  "p(50), p(90), p(95), p(99), med, avg and max of http_req_duration (milliseconds), rate of http_req_failed (0 to 1), rate of http_reqs (per second), each with <, <=, > or >=";

const PERCENTILES = new Set(["50", "90", "95", "99"]);
const COMPARATORS = { "<": "below", "<=": "atMost", ">": "above", ">=": "atLeast" } as const;
type NativeComparator = (typeof COMPARATORS)[keyof typeof COMPARATORS];

/** A k6 expression as a native condition: the fields a check would carry. */
export interface NativeThreshold {
  metric:
    | "latency.p50"
    | "latency.p90"
    | "latency.p95"
    | "latency.p99"
    | "latency.avg"
    | "latency.max"
    | "errors.rate"
    | "throughput";
  comparator: NativeComparator;
  /** The threshold as a native check writes it: "200ms", "1%", "100/s". */
  text: string;
}

const EXPRESSION = /^\s*(p\(\s*(\d+(?:\.\d+)?)\s*\)|[a-z]+)\s*(<=|>=|===|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$/;

/** The k6 metric an aggregation belongs to when a check writes `threshold:` alone. */
export function k6MetricOf(expression: string): K6Metric {
  return /^\s*rate\b/.test(expression) ? "http_req_failed" : "http_req_duration";
}

/** Parses one k6 threshold expression on a k6 metric; a string is the reason it is refused. */
export function fromK6(metric: K6Metric, expression: string): NativeThreshold | string {
  const match = EXPRESSION.exec(expression);
  if (!match)
    return `expected a k6 threshold such as "p(95)<200" or "rate<0.01", got "${expression}"; supported: ${K6_SUPPORTED}`;
  const [, aggregation = "", percentile, operator = "", value = ""] = match;
  const comparator = COMPARATORS[operator as keyof typeof COMPARATORS];
  if (!comparator)
    return `expected <, <=, > or >= in "${expression}" (k6's ${operator} has no Faultline check)`;
  const number = Number(value);
  if (metric === "http_req_duration") {
    const latency = latencyMetric(aggregation, percentile);
    if (!latency)
      return `expected ${aggregation} to be one of p(50), p(90), p(95), p(99), med, avg, max on http_req_duration; got "${expression}"`;
    if (number < 0) return `expected a duration of 0 or more milliseconds in "${expression}"`;
    return { metric: latency, comparator, text: `${value}ms` };
  }
  if (aggregation !== "rate") return `expected rate on ${metric} (such as "rate<0.01"); got "${expression}"`;
  if (metric === "http_req_failed") {
    if (number < 0 || number > 1)
      return `expected a rate from 0 to 1 on http_req_failed in "${expression}" (0.01 is 1%)`;
    return { metric: "errors.rate", comparator, text: `${+(number * 100).toPrecision(12)}%` };
  }
  if (number < 0) return `expected a rate of 0 or more requests per second in "${expression}"`;
  return { metric: "throughput", comparator, text: `${value}/s` };
}

function latencyMetric(
  aggregation: string,
  percentile: string | undefined,
): NativeThreshold["metric"] | undefined {
  if (percentile !== undefined)
    return PERCENTILES.has(percentile) ? (`latency.p${percentile}` as NativeThreshold["metric"]) : undefined;
  return ({ med: "latency.p50", avg: "latency.avg", max: "latency.max" } as const)[
    aggregation as "med" | "avg" | "max"
  ];
}

/** `http_req_duration{name:api}`: the k6 metric and the request it is scoped to. */
export function parseK6Key(key: string): { metric: K6Metric; request?: string } | string {
  const match = /^([a-z_]+)(?:\{\s*name\s*:\s*([A-Za-z][A-Za-z0-9_.-]*)\s*\})?$/.exec(key);
  const metric = match?.[1];
  if (!match || !k6Metrics.includes(metric as K6Metric))
    return `expected a k6 metric: ${k6Metrics.join(", ")}, optionally tagged with a request of the mix ({name:api}); got "${key}"`;
  return { metric: metric as K6Metric, ...(match[2] ? { request: match[2] } : {}) };
}
