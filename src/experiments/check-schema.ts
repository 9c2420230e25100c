import { z } from "zod";
import { errorMessage } from "../errors.js";
import { duration, weight } from "../format/unit-schemas.js";
import { POP_SERVER_NAME } from "../replica/topology.js";
import { parsePercent, parseRate, parseThresholdDuration } from "../units.js";
import { fromK6, k6MetricOf } from "./k6-thresholds.js";
import { headersField, requestBody, requestMethods } from "./load-schema.js";

// Checks and abort conditions: what is measured (a load metric or a probe), on which side of
// which threshold it must stay, and when. A load metric comes from the traffic Faultline
// drives; a probe (PromQL, HTTP, command) is sampled on its own schedule during the run.

export const latencyMetrics = [
  "latency.avg",
  "latency.p50",
  "latency.p90",
  "latency.p95",
  "latency.p99",
  "latency.max",
] as const;
export const statusMetrics = ["status.2xx", "status.3xx", "status.4xx", "status.5xx"] as const;
export const loadMetrics = [
  ...latencyMetrics,
  "errors.rate",
  "throughput",
  ...statusMetrics,
  "traffic.share",
] as const;
export const probeMetrics = [
  "promql",
  "http.success",
  "http.latency",
  "command.success",
  "tls.success",
  "tls.handshake",
  "tls.expiry",
  "dns.success",
  "dns.latency",
] as const;
export const metricNames = [...loadMetrics, ...probeMetrics] as const;
export type LoadMetric = (typeof loadMetrics)[number];
export type MetricName = (typeof metricNames)[number];

/** duration: milliseconds; fraction: 0..1; rate: per second; number: as the probe returned it. */
export type MetricUnit = "duration" | "fraction" | "rate" | "number";

export function unitOf(metric: string): MetricUnit {
  if (
    metric.startsWith("latency.") ||
    ["http.latency", "tls.handshake", "tls.expiry", "dns.latency"].includes(metric)
  )
    return "duration";
  if (metric === "throughput") return "rate";
  if (metric === "promql") return "number";
  return "fraction";
}

export const comparators = ["below", "above", "atMost", "atLeast", "between"] as const;
export type Comparator = (typeof comparators)[number];
export const checkPhases = ["baseline", "inject", "recover", "verify"] as const;
export type CheckPhase = (typeof checkPhases)[number];

/** Endpoints of the replica an HTTP probe can name instead of a URL (published on 127.0.0.1). */
export const httpEndpoints = ["lb", "lb-stats", "prometheus", "toxiproxy"] as const;
export type HttpEndpoint = (typeof httpEndpoints)[number];

const regex = (what: string) =>
  z
    .string()
    .min(1)
    .superRefine((text, ctx) => {
      try {
        new RegExp(text);
      } catch (error) {
        ctx.addIssue({
          code: "custom",
          message: `expected a regular expression for ${what}: ${errorMessage(error)}`,
        });
      }
    });

const httpStatus = z.number().int().min(100, "expected an HTTP status").max(599, "expected an HTTP status");

export const httpProbeSchema = z
  .strictObject({
    url: z
      .string()
      .regex(/^https?:\/\/[^/\s]+/, { message: "expected an absolute http:// or https:// URL" })
      .optional()
      .describe("absolute URL on loopback to request; default: `endpoint` and `path`"),
    endpoint: z
      .enum(httpEndpoints, { error: `expected endpoint to be one of ${httpEndpoints.join(", ")}` })
      .optional()
      .describe("a replica endpoint to request (default lb, the PoP's load balancer)"),
    path: z.string().regex(/^\//, { message: 'expected a URL path starting with "/"' }).optional(),
    status: z
      .union([httpStatus, z.array(httpStatus).min(1)], {
        error: "expected an HTTP status such as 200, or a list such as [200, 204]",
      })
      .optional()
      .describe("the statuses that count as success (default: any below 400)"),
    body: regex("body").optional().describe("a regular expression the response body must match"),
    method: z
      .enum(requestMethods, { error: `expected method to be one of ${requestMethods.join(", ")}` })
      .default("GET"),
    headers: headersField.default({}).describe("request headers, e.g. { authorization: Bearer test }"),
    send: requestBody.optional().describe("the request body (body: is what the response must match)"),
    timeout: duration().default(2000).describe("an answer slower than this is a failure"),
    measure: z
      .enum(["success", "latency"], { error: "expected measure to be success or latency" })
      .default("success")
      .describe("success: share of probes that succeeded; latency: the slowest answer"),
  })
  .superRefine((http, ctx) => {
    if (http.send !== undefined && (http.method === "GET" || http.method === "HEAD"))
      ctx.addIssue({
        code: "custom",
        path: ["send"],
        message: `expected send only with a method that takes a body (POST, PUT, PATCH...), not ${http.method}`,
      });
    if (http.url !== undefined && (http.endpoint !== undefined || http.path !== undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["url"],
        message: "expected either url, or endpoint and path, not both",
      });
    }
  })
  .transform((http) => ({
    kind: "http" as const,
    url: http.url,
    endpoint: http.endpoint ?? ("lb" as HttpEndpoint),
    path: http.path ?? "/",
    status: http.status === undefined ? undefined : Array.isArray(http.status) ? http.status : [http.status],
    body: http.body,
    method: http.method,
    headers: http.headers,
    send: http.send,
    timeoutMs: http.timeout,
    measure: http.measure,
  }));

export const commandProbeSchema = z
  .strictObject({
    run: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
        error: 'expected a command line such as "nginx -t", or a list of arguments',
      })
      .describe("a string runs through sh -c; a list runs as is"),
    in: z
      .string()
      .min(1)
      .optional()
      .describe("run inside this service's container (e.g. edge-1) instead of on this machine"),
    exit: z.number().int().min(0).max(255).default(0).describe("the exit code that counts as success"),
    output: regex("output").optional().describe("a regular expression the output must match"),
    timeout: duration().default(5000).describe("a command running longer is stopped and fails"),
  })
  .transform((command) => ({
    kind: "command" as const,
    argv: typeof command.run === "string" ? ["sh", "-c", command.run] : command.run,
    display: typeof command.run === "string" ? command.run : command.run.join(" "),
    in: command.in,
    exit: command.exit,
    output: command.output,
    timeoutMs: command.timeout,
  }));

const LOOPBACK_ADDRESS = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\]):\d{1,5}$/;
const HOSTNAME =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

export const tlsProbeSchema = z
  .strictObject({
    address: z
      .string()
      .regex(LOOPBACK_ADDRESS, {
        message: 'expected a loopback address with a port, such as "127.0.0.1:8443"',
      })
      .optional()
      .describe("a TLS server on this machine to connect to; default: `endpoint`"),
    endpoint: z
      .enum(["lb"], { error: "expected endpoint: lb (the PoP's published entry point)" })
      .optional()
      .describe("the replica's TLS entry point (needs a replica that serves HTTPS)"),
    servername: z
      .string()
      .regex(HOSTNAME, { message: "expected a DNS name such as pop.faultline.test" })
      .default(POP_SERVER_NAME)
      .describe("the name sent in SNI and verified against the certificate"),
    measure: z
      .enum(["success", "handshake", "expiry"], {
        error: "expected measure to be success, handshake or expiry",
      })
      .default("success")
      .describe(
        "success: share of verified handshakes; handshake: its time; expiry: time until the certificate expires",
      ),
    percentile: z
      .number()
      .min(1, "expected a percentile from 1 to 100")
      .max(100, "expected a percentile from 1 to 100")
      .default(99)
      .describe("measure handshake: the percentile of a window's handshake times (99: p99)"),
    protocol: z
      .enum(["TLSv1.2", "TLSv1.3"], { error: "expected protocol to be TLSv1.2 or TLSv1.3" })
      .optional()
      .describe("a handshake negotiating another protocol version fails"),
    alpn: z
      .enum(["h2", "http/1.1"], { error: "expected alpn to be h2 or http/1.1" })
      .optional()
      .describe("a handshake negotiating another application protocol (or none) fails"),
    ca: z
      .enum(["replica", "system"], { error: "expected ca to be replica or system" })
      .default("replica")
      .describe("the CA the chain must verify against: the replica's own, or this machine's"),
    timeout: duration().default(2000).describe("a handshake slower than this is a failure"),
  })
  .superRefine((tls, ctx) => {
    if (tls.address !== undefined && tls.endpoint !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["address"],
        message: "expected either address or endpoint, not both",
      });
  })
  .transform((tls) => ({
    kind: "tls" as const,
    address: tls.address,
    endpoint: tls.address === undefined ? (tls.endpoint ?? ("lb" as const)) : undefined,
    servername: tls.servername,
    measure: tls.measure,
    percentile: tls.percentile,
    protocol: tls.protocol,
    alpn: tls.alpn,
    ca: tls.ca,
    timeoutMs: tls.timeout,
  }));

export const dnsProbeSchema = z
  .strictObject({
    name: z
      .string({ error: "expected name: the name to look up, such as origin.faultline.test" })
      .regex(HOSTNAME, { message: "expected a DNS name such as origin.faultline.test" })
      .describe("the name looked up (an A record) at every sample"),
    measure: z
      .enum(["success", "latency"], { error: "expected measure to be success or latency" })
      .default("success")
      .describe("success: share of lookups answered with an address; latency: their time"),
    percentile: z
      .number()
      .min(1, "expected a percentile from 1 to 100")
      .max(100, "expected a percentile from 1 to 100")
      .default(99)
      .describe("measure latency: the percentile of a window's lookup times (99: p99)"),
    timeout: duration()
      .pipe(z.number().max(10_000, { message: "expected a timeout of at most 10s" }))
      .default(1000)
      .describe("a lookup unanswered after this is a failure"),
  })
  .transform((dns) => ({
    kind: "dns" as const,
    name: dns.name.toLowerCase(),
    measure: dns.measure,
    percentile: dns.percentile,
    timeoutMs: dns.timeout,
  }));

export interface PromqlProbe {
  kind: "promql";
  query: string;
  everyMs: number;
}
export type HttpProbe = z.output<typeof httpProbeSchema> & { everyMs: number };
export type CommandProbe = z.output<typeof commandProbeSchema> & { everyMs: number };
export type TlsProbe = z.output<typeof tlsProbeSchema> & { everyMs: number };
export type DnsProbe = z.output<typeof dnsProbeSchema> & { everyMs: number };
export type Probe = PromqlProbe | HttpProbe | CommandProbe | TlsProbe | DnsProbe;

/** How long one sample of the probe may take. */
export function probeTimeoutMs(probe: Probe): number {
  if (probe.kind === "promql") return 2000;
  // In a container the command runs under `timeout` (whole seconds), plus a second of docker exec.
  if (probe.kind === "command" && probe.in !== undefined)
    return Math.ceil(probe.timeoutMs / 1000) * 1000 + 1000;
  return probe.timeoutMs;
}

const thresholdText = z.union([z.string(), z.number()]).transform(String);
const sourceKeys = ["metric", "promql", "http", "command", "tls", "dns"] as const;

const conditionFields = {
  name: z.string().min(1).optional(),
  metric: z
    .enum(loadMetrics, {
      error: `expected one of ${loadMetrics.join(", ")} (or use promql, http, command, tls or dns)`,
    })
    .optional()
    .describe("a metric of the load Faultline drives"),
  pop: z
    .string()
    .min(1)
    .optional()
    .describe("traffic.share: the PoP whose share of the requests is measured (multi-PoP replicas)"),
  request: z
    .string()
    .min(1)
    .optional()
    .describe("a load metric of one request of the mix (its name in load.requests) instead of all"),
  promql: z
    .string()
    .min(1)
    .optional()
    .describe("a PromQL query against the replica's Prometheus; one value (a scalar or one series)"),
  http: httpProbeSchema.optional().describe("an HTTP request made every `every`"),
  command: commandProbeSchema.optional().describe("a command run every `every`"),
  tls: tlsProbeSchema.optional().describe("a new TLS handshake every `every`, measured"),
  dns: dnsProbeSchema.optional().describe("a lookup in the replica's DNS every `every`, measured"),
  threshold: z
    .string()
    .min(1)
    .optional()
    .describe(
      'k6\'s threshold syntax instead of metric and comparator: "p(95)<200" (ms), "avg<100", "rate<0.01"',
    ),
  every: duration().optional().describe("how often a probe is sampled (default 1s; 2s for command probes)"),
  below: thresholdText.optional(),
  above: thresholdText.optional(),
  atMost: thresholdText.optional(),
  atLeast: thresholdText.optional(),
  between: z
    .tuple([thresholdText, thresholdText], { error: 'expected [low, high], e.g. between: ["10ms", "300ms"]' })
    .transform((pair) => pair.join(".."))
    .optional(),
};

interface ConditionInput {
  name?: string | undefined;
  metric?: LoadMetric | undefined;
  pop?: string | undefined;
  request?: string | undefined;
  threshold?: string | undefined;
  promql?: string | undefined;
  http?: z.output<typeof httpProbeSchema> | undefined;
  command?: z.output<typeof commandProbeSchema> | undefined;
  tls?: z.output<typeof tlsProbeSchema> | undefined;
  dns?: z.output<typeof dnsProbeSchema> | undefined;
  every?: number | undefined;
  below?: string | undefined;
  above?: string | undefined;
  atMost?: string | undefined;
  atLeast?: string | undefined;
  between?: string | undefined;
}

const plainNumber = (text: string) =>
  /^\s*-?\d+(\.\d+)?(e[-+]?\d+)?\s*$/i.test(text) ? Number(text) : undefined;

export function parseThreshold(unit: MetricUnit, text: string): number | undefined {
  switch (unit) {
    case "duration":
      return parseThresholdDuration(text);
    case "fraction": {
      const value = parsePercent(text);
      return value !== undefined && value <= 1 ? value : undefined;
    }
    case "rate":
      return parseRate(text) ?? plainNumber(text);
    case "number":
      return plainNumber(text) ?? parsePercent(text);
  }
}

const thresholdExpectation: Record<MetricUnit, string> = {
  duration: 'a duration such as "300ms" (or days: "7d")',
  fraction: 'a percentage from "0%" to "100%"',
  rate: 'a rate such as "90/s"',
  number: "a number such as 3 or 0.5",
};

function sourceOf(condition: ConditionInput, everyMs: number): { metric: MetricName; probe?: Probe } {
  if (condition.promql !== undefined)
    return { metric: "promql", probe: { kind: "promql", query: condition.promql, everyMs } };
  if (condition.http !== undefined)
    return { metric: `http.${condition.http.measure}`, probe: { ...condition.http, everyMs } };
  if (condition.command !== undefined)
    return { metric: "command.success", probe: { ...condition.command, everyMs } };
  if (condition.tls !== undefined)
    return { metric: `tls.${condition.tls.measure}`, probe: { ...condition.tls, everyMs } };
  if (condition.dns !== undefined)
    return { metric: `dns.${condition.dns.measure}`, probe: { ...condition.dns, everyMs } };
  return { metric: condition.metric as LoadMetric };
}

function defaultName(metric: MetricName, probe: Probe | undefined, comparator: string, text: string): string {
  const rule = `${comparator} ${text}`;
  if (!probe) return `${metric} ${rule}`;
  switch (probe.kind) {
    case "promql":
      return `${probe.query} ${rule}`;
    case "http":
      return `http ${probe.method === "GET" ? "" : `${probe.method} `}${probe.url ?? `${probe.endpoint}${probe.path}`} ${probe.measure} ${rule}`;
    case "command":
      return `command "${probe.display}"${probe.in ? ` in ${probe.in}` : ""} ${rule}`;
    case "tls": {
      const what = probe.measure === "handshake" ? `handshake p${probe.percentile}` : probe.measure;
      return `tls ${probe.address ?? probe.endpoint} ${what} ${rule}`;
    }
    case "dns": {
      const what = probe.measure === "latency" ? `latency p${probe.percentile}` : probe.measure;
      return `dns ${probe.name} ${what} ${rule}`;
    }
  }
}

/** Shared by checks and abort conditions: one source, exactly one comparator, a threshold in its unit. */
function parseCondition(input: ConditionInput, ctx: z.RefinementCtx) {
  const condition = input.threshold === undefined ? input : withK6(input, ctx);
  if (!condition) return undefined;
  const everyMs = sourceInterval(condition, ctx);
  if (everyMs === undefined) return undefined;
  const { metric, probe } = sourceOf(condition, everyMs);
  const rule = parseRule(condition, metric, ctx);
  if (!rule) return undefined;
  const { comparator, text, threshold, thresholdHigh } = rule;
  return {
    ...(input.threshold === undefined ? {} : { k6: input.threshold }),
    name:
      condition.name ??
      (input.threshold !== undefined ? k6Name(input) : undefined) ??
      defaultName(metric, probe, comparator, text)
        .replace(/^traffic\.share/, `traffic.share of ${condition.pop ?? "?"}`)
        .replace(/^([a-z0-9.]+)/, condition.request === undefined ? "$1" : `$1 of ${condition.request}`),
    metric,
    ...(condition.pop === undefined ? {} : { pop: condition.pop }),
    ...(condition.request === undefined ? {} : { request: condition.request }),
    ...(probe ? { probe } : {}),
    comparator,
    threshold,
    ...(thresholdHigh === undefined ? {} : { thresholdHigh }),
    thresholdText: text,
  };
}

/** A k6 threshold (`threshold: "p(95)<200"`) as the metric and comparator it stands for. */
function withK6(input: ConditionInput, ctx: z.RefinementCtx): ConditionInput | undefined {
  const expression = input.threshold ?? "";
  const refuse = (message: string) => {
    ctx.addIssue({ code: "custom", path: ["threshold"], message });
    return undefined;
  };
  const extra = [...comparators, ...sourceKeys.filter((k) => k !== "metric")].filter(
    (k) => input[k] !== undefined,
  );
  if (extra.length)
    return refuse(
      `expected threshold without ${extra.join(" and ")}: a k6 threshold carries its own metric and comparator`,
    );
  if (input.metric !== undefined && input.metric !== "throughput")
    return refuse(
      `expected threshold without metric (it names its own: "p(95)<200" is latency.p95 below 200ms); only metric: throughput goes with it, for k6's http_reqs rate`,
    );
  const native = fromK6(input.metric === "throughput" ? "http_reqs" : k6MetricOf(expression), expression);
  if (typeof native === "string") return refuse(native);
  return { ...input, threshold: undefined, metric: native.metric, [native.comparator]: native.text };
}

const k6Name = (input: ConditionInput) =>
  `${input.metric === "throughput" ? "http_reqs" : k6MetricOf(input.threshold ?? "")}${input.request ? `{name:${input.request}}` : ""} ${input.threshold}`;

/** Exactly one source, sampled how often; undefined (with the issue added) when the source is wrong. */
function sourceInterval(condition: ConditionInput, ctx: z.RefinementCtx): number | undefined {
  const sources = sourceKeys.filter((k) => condition[k] !== undefined);
  if (sources.length !== 1) {
    ctx.addIssue({
      code: "custom",
      path: sources.length ? [sources[1] as string] : [],
      message: `expected exactly one of ${sourceKeys.join(", ")}${sources.length ? `, got ${sources.join(" and ")}` : ""}`,
    });
    return undefined;
  }
  const everyMs = condition.every ?? (condition.command ? 2000 : 1000);
  if (condition.metric !== undefined && condition.every !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["every"],
      message:
        "expected every only on promql, http, command, tls and dns probes; load metrics are measured every second",
    });
    return undefined;
  }
  if (everyMs < 100) {
    ctx.addIssue({ code: "custom", path: ["every"], message: "expected every of at least 100ms" });
    return undefined;
  }
  if (
    condition.request !== undefined &&
    (condition.metric === undefined || condition.metric === "traffic.share")
  ) {
    ctx.addIssue({
      code: "custom",
      path: ["request"],
      message: "expected request only with a load metric (latency, errors, throughput, status) of the mix",
    });
    return undefined;
  }
  if ((condition.metric === "traffic.share") !== (condition.pop !== undefined)) {
    ctx.addIssue({
      code: "custom",
      path: [condition.pop === undefined ? "metric" : "pop"],
      message:
        condition.pop === undefined
          ? "expected pop: with metric traffic.share (the PoP whose share is measured)"
          : "expected pop only with metric: traffic.share",
    });
    return undefined;
  }
  return everyMs;
}

/** Exactly one comparator, and its threshold (or [low, high]) in the metric's unit. */
function parseRule(
  condition: ConditionInput,
  metric: MetricName,
  ctx: z.RefinementCtx,
):
  | { comparator: Comparator; text: string; threshold: number; thresholdHigh: number | undefined }
  | undefined {
  const given = comparators.filter((c) => condition[c] !== undefined);
  if (given.length !== 1) {
    ctx.addIssue({
      code: "custom",
      message: `expected exactly one of ${comparators.join(", ")}${given.length ? `, got ${given.join(" and ")}` : ""}`,
    });
    return undefined;
  }
  const comparator = given[0] as Comparator;
  const text = condition[comparator] as string;
  const unit = unitOf(metric);
  const [lowText, highText] = comparator === "between" ? text.split("..") : [text, undefined];
  const threshold = parseThreshold(unit, lowText ?? "");
  const thresholdHigh = highText === undefined ? undefined : parseThreshold(unit, highText);
  if (threshold === undefined || (highText !== undefined && thresholdHigh === undefined)) {
    ctx.addIssue({
      code: "custom",
      path: [comparator],
      message: `expected ${thresholdExpectation[unit]} for ${metric}, got "${comparator === "between" ? `[${lowText}, ${highText}]` : text}"`,
    });
    return undefined;
  }
  if (thresholdHigh !== undefined && thresholdHigh < threshold) {
    ctx.addIssue({
      code: "custom",
      path: [comparator],
      message: `expected between: [low, high] with low at most high, got [${lowText}, ${highText}]`,
    });
    return undefined;
  }
  return { comparator, text, threshold, thresholdHigh };
}
export type Condition = NonNullable<ReturnType<typeof parseCondition>>;

export const checkSchema = z
  .strictObject({
    ...conditionFields,
    weight: weight.default(1).describe("weight of this check in the score's tolerance and restoration"),
    phases: z
      .array(
        z.enum([...checkPhases, "always"], {
          error: `expected phases among ${checkPhases.join(", ")}, always`,
        }),
      )
      .min(1)
      .optional()
      .describe("the phases in which the check applies (default: always)"),
    allowFor: duration()
      .default(0)
      .describe("a breach lasting at most this long (consecutive windows) is tolerated"),
  })
  .transform((check, ctx) => {
    const condition = parseCondition(check, ctx);
    if (!condition) return z.NEVER;
    const phases: CheckPhase[] =
      !check.phases || check.phases.includes("always") ? [...checkPhases] : (check.phases as CheckPhase[]);
    return { ...condition, weight: check.weight, phases, allowForMs: check.allowFor };
  });
export type Check = z.infer<typeof checkSchema>;

export const abortConditionSchema = z
  .strictObject({
    ...conditionFields,
    for: duration()
      .default(5000)
      .describe("how long the breach must last, measured over that many seconds of traffic"),
  })
  .transform((abort, ctx) => {
    if (abort.threshold !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["threshold"],
        message:
          "expected threshold only in checks: a k6 threshold says what must hold, an abort condition when to stop (write metric: with above or atLeast)",
      });
      return z.NEVER;
    }
    const condition = parseCondition(abort, ctx);
    return condition ? { ...condition, forMs: abort.for } : z.NEVER;
  })
  .describe("when the metric is on this side of the threshold for `for`, every fault is reverted at once");
export type AbortCondition = z.infer<typeof abortConditionSchema>;
