import { z } from "zod";
import {
  formatDuration,
  parseBandwidth,
  parseBytes,
  parseDuration,
  parsePercent,
  parseRate,
} from "../units.js";

// The schema is the source of truth for the experiment format: types are inferred from it,
// docs/design.md describes it, and the loader turns its issues into located errors.

const duration = (example = '"150ms", "30s" or "2m"') =>
  z.string({ error: `expected a duration such as ${example}` }).transform((text, ctx) => {
    const value = parseDuration(text);
    if (value === undefined) {
      ctx.addIssue({ code: "custom", message: `expected a duration such as ${example}, got "${text}"` });
      return z.NEVER;
    }
    return value;
  });

const weight = z.number().min(0, { message: "expected a weight of 0 or more" });

const rate = z.string({ error: 'expected a rate such as "100/s"' }).transform((text, ctx) => {
  const value = parseRate(text);
  if (value === undefined || value <= 0) {
    ctx.addIssue({ code: "custom", message: `expected a rate such as "100/s" or "6000/m", got "${text}"` });
    return z.NEVER;
  }
  return value;
});

export const loadSchema = z
  .strictObject({
    rate: rate.describe("constant arrival rate of requests, e.g. 100/s"),
    path: z
      .string()
      .regex(/^\//, { message: 'expected a URL path starting with "/"' })
      .default("/")
      .describe("path requested on the PoP's load balancer"),
    warmup: duration().default(5000).describe("load before the baseline starts; not evaluated"),
    timeout: duration().default(5000).describe("a request slower than this counts as an error"),
  })
  .describe("the traffic Faultline drives through the PoP while the experiment runs");
export type Load = z.infer<typeof loadSchema>;

export const latencyMetrics = [
  "latency.p50",
  "latency.p90",
  "latency.p95",
  "latency.p99",
  "latency.max",
] as const;
export const rateMetrics = ["errors.rate"] as const;
export const metricNames = [...latencyMetrics, ...rateMetrics] as const;
export type MetricName = (typeof metricNames)[number];
export const comparators = ["below", "above", "atMost", "atLeast", "between"] as const;
export const checkPhases = ["baseline", "inject", "recover", "verify"] as const;
export type CheckPhase = (typeof checkPhases)[number];
export type Comparator = (typeof comparators)[number];

const thresholdText = z.union([z.string(), z.number()]).transform(String);

const conditionFields = {
  name: z.string().min(1).optional(),
  metric: z.enum(metricNames, { error: `expected one of ${metricNames.join(", ")}` }),
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
  metric: MetricName;
  below?: string | undefined;
  above?: string | undefined;
  atMost?: string | undefined;
  atLeast?: string | undefined;
  between?: string | undefined;
}

/** Shared by checks and abort conditions: exactly one comparator, a threshold in the metric's unit. */
function parseCondition(condition: ConditionInput, ctx: z.RefinementCtx) {
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
  const isLatency = condition.metric.startsWith("latency.");
  const parseOne = (t: string) => {
    const parsed = isLatency ? parseDuration(t) : parsePercent(t);
    return !isLatency && parsed !== undefined && parsed > 1 ? undefined : parsed;
  };
  const [lowText, highText] = comparator === "between" ? text.split("..") : [text, undefined];
  const threshold = parseOne(lowText ?? "");
  const thresholdHigh = highText === undefined ? undefined : parseOne(highText);
  if (
    threshold !== undefined &&
    highText !== undefined &&
    (thresholdHigh === undefined || thresholdHigh < threshold)
  ) {
    ctx.addIssue({
      code: "custom",
      path: [comparator],
      message: `expected between: [low, high] with low at most high, got [${lowText}, ${highText}]`,
    });
    return undefined;
  }
  if (threshold === undefined) {
    ctx.addIssue({
      code: "custom",
      path: [comparator],
      message: isLatency
        ? `expected a duration such as "300ms" for ${condition.metric}, got "${text}"`
        : `expected a percentage from "0%" to "100%" for ${condition.metric}, got "${text}"`,
    });
    return undefined;
  }
  return {
    name: condition.name ?? `${condition.metric} ${comparator} ${text}`,
    metric: condition.metric,
    comparator,
    threshold,
    ...(thresholdHigh === undefined ? {} : { thresholdHigh }),
    thresholdText: text,
  };
}

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
    const condition = parseCondition(abort, ctx);
    return condition ? { ...condition, forMs: abort.for } : z.NEVER;
  })
  .describe("when the metric is on this side of the threshold for `for`, every fault is reverted at once");
export type AbortCondition = z.infer<typeof abortConditionSchema>;

export const steadyStateSchema = z.strictObject({
  window: duration().default(5000).describe("checks are evaluated over windows of this length"),
  baseline: duration().default(15000).describe("steady state measured before any fault; must hold"),
  recover: duration()
    .optional()
    .describe("time after the last revert in which recovery is measured (default: score.recoveryTarget)"),
  verify: duration().default(15000).describe("steady state measured after recovery; must hold again"),
  checks: z.array(checkSchema).min(1, { message: "expected at least one check" }),
});
export type SteadyState = z.infer<typeof steadyStateSchema>;

export const directions = ["downstream", "upstream", "both"] as const;
export const lossDirections = ["ingress", "egress", "both"] as const;
export const killModes = ["kill", "stop", "pause", "restart"] as const;
export const roles = ["lb", "edge", "origin"] as const;
/** Signals a node-kill may send; names as `kill -l` prints them, with or without SIG. */
export const signals = [
  "SIGKILL",
  "SIGTERM",
  "SIGINT",
  "SIGQUIT",
  "SIGHUP",
  "SIGUSR1",
  "SIGUSR2",
  "SIGSTOP",
] as const;

const share = z.string({ error: 'expected a percentage such as "50%"' }).transform((text, ctx) => {
  const value = parsePercent(text);
  if (value === undefined || value <= 0 || value > 1) {
    ctx.addIssue({
      code: "custom",
      message: `expected a percentage above "0%" and at most "100%", got "${text}"`,
    });
    return z.NEVER;
  }
  return value;
});

const selectorFields = {
  pick: z
    .number()
    .int()
    .min(1, { message: "expected pick of at least 1" })
    .optional()
    .describe("choose this many at random (seeded)"),
  percent: share.optional().describe("choose this share at random (seeded), at least one"),
};

export const targetSchema = z.union(
  [
    z
      .string()
      .min(1)
      .transform((name) => ({ kind: "name" as const, name })),
    z.strictObject({ name: z.string().min(1) }).transform((t) => ({ kind: "name" as const, name: t.name })),
    z
      .strictObject({
        role: z.enum(roles, { error: `expected role to be one of ${roles.join(", ")}` }),
        ...selectorFields,
      })
      .transform((t) => ({ kind: "role" as const, role: t.role, pick: t.pick, percent: t.percent })),
    z
      .strictObject({ labels: z.record(z.string(), z.string()), ...selectorFields })
      .transform((t) => ({ kind: "labels" as const, labels: t.labels, pick: t.pick, percent: t.percent })),
  ],
  {
    error:
      "expected a service name (e.g. edge-1), { role: edge, pick: 1 } or { labels: {...}, percent: 50% }",
  },
);
export type Target = z.infer<typeof targetSchema>;

const faultTiming = {
  at: duration().default(0).describe("offset from the start of the inject phase"),
  for: duration().describe("how long the fault stays applied before Faultline reverts it"),
  target: targetSchema,
};

const toxicFields = {
  direction: z
    .enum(directions, { error: `expected one of ${directions.join(", ")}` })
    .describe("downstream: server to client (responses); upstream: client to server (requests)"),
  share: share.optional().describe("share of connections affected (Toxiproxy toxicity); default all"),
};

export const latencyFaultSchema = z
  .strictObject({
    fault: z.literal("latency"),
    ...faultTiming,
    ...toxicFields,
    direction: toxicFields.direction.default("downstream"),
    latency: duration('"150ms"'),
    jitter: duration('"20ms"').default(0),
  })
  .superRefine((fault, ctx) => {
    if (fault.jitter > fault.latency) {
      ctx.addIssue({
        code: "custom",
        path: ["jitter"],
        message: "expected jitter not above latency (Toxiproxy draws latency ± jitter)",
      });
    }
  });
export type LatencyFault = z.infer<typeof latencyFaultSchema>;

export const bandwidthFaultSchema = z.strictObject({
  fault: z.literal("bandwidth"),
  ...faultTiming,
  ...toxicFields,
  direction: toxicFields.direction.default("downstream"),
  rate: z
    .string({ error: 'expected a bandwidth such as "100KB/s" or "8Mbit/s"' })
    .transform((text, ctx) => {
      const value = parseBandwidth(text);
      if (value === undefined || value < 1000) {
        ctx.addIssue({
          code: "custom",
          message: `expected a bandwidth of at least 1KB/s such as "100KB/s" or "8Mbit/s", got "${text}"`,
        });
        return z.NEVER;
      }
      return value;
    })
    .describe("bytes per second allowed per connection"),
});
export type BandwidthFault = z.infer<typeof bandwidthFaultSchema>;

export const timeoutFaultSchema = z.strictObject({
  fault: z.literal("timeout"),
  ...faultTiming,
  ...toxicFields,
  direction: toxicFields.direction.default("both"),
  after: duration()
    .default(0)
    .describe("close connections after this long; 0s holds them until reverted (black hole)"),
});
export type TimeoutFault = z.infer<typeof timeoutFaultSchema>;

export const resetFaultSchema = z.strictObject({
  fault: z.literal("reset"),
  ...faultTiming,
  ...toxicFields,
  direction: toxicFields.direction.default("both"),
  after: duration()
    .default(0)
    .describe("reset connections after this long; 0s resets them as soon as data flows"),
});
export type ResetFault = z.infer<typeof resetFaultSchema>;

export const nodeKillFaultSchema = z.strictObject({
  fault: z.literal("node-kill"),
  ...faultTiming,
  mode: z.enum(killModes, { error: `expected mode to be one of ${killModes.join(", ")}` }).default("kill"),
  signal: z
    .string()
    .transform((text, ctx) => {
      const name = (
        text.toUpperCase().startsWith("SIG") ? text.toUpperCase() : `SIG${text.toUpperCase()}`
      ) as (typeof signals)[number];
      if (!signals.includes(name)) {
        ctx.addIssue({
          code: "custom",
          message: `expected a signal among ${signals.join(", ")}, got "${text}"`,
        });
        return z.NEVER;
      }
      return name;
    })
    .default("SIGKILL")
    .describe("signal for mode kill"),
});
export type NodeKillFault = z.infer<typeof nodeKillFaultSchema>;

export const packetLossFaultSchema = z.strictObject({
  fault: z.literal("packet-loss"),
  ...faultTiming,
  loss: share.describe("share of packets dropped"),
  direction: z
    .enum(lossDirections, { error: `expected one of ${lossDirections.join(", ")}` })
    .default("both"),
});
export type PacketLossFault = z.infer<typeof packetLossFaultSchema>;

export const partitionFaultSchema = z.strictObject({
  fault: z.literal("partition"),
  ...faultTiming,
  from: z
    .string()
    .min(1)
    .optional()
    .describe("cut the target off this one service only; default: off the whole network"),
});
export type PartitionFault = z.infer<typeof partitionFaultSchema>;

export const stressFaultSchema = z
  .strictObject({
    fault: z.literal("stress"),
    ...faultTiming,
    cpu: z.number().int().min(1).max(64).optional().describe("busy-looping workers, each about one core"),
    memory: z
      .string({ error: 'expected a size such as "256MB" or "512MiB"' })
      .transform((text, ctx) => {
        const value = parseBytes(text);
        if (value === undefined || value < 1_000_000) {
          ctx.addIssue({
            code: "custom",
            message: `expected a size of at least 1MB such as "256MB", got "${text}"`,
          });
          return z.NEVER;
        }
        return value;
      })
      .optional()
      .describe("memory held inside the target"),
  })
  .superRefine((fault, ctx) => {
    if (fault.cpu === undefined && fault.memory === undefined) {
      ctx.addIssue({ code: "custom", path: ["cpu"], message: "expected cpu, memory or both" });
    }
  });
export type StressFault = z.infer<typeof stressFaultSchema>;

export const brownoutStatuses = [500, 502, 503, 504] as const;

export const originBrownoutFaultSchema = z
  .strictObject({
    fault: z.literal("origin-brownout"),
    ...faultTiming,
    target: targetSchema.default({ kind: "name", name: "origin" }),
    errors: share.optional().describe("share of origin responses replaced by an error"),
    status: z
      .number()
      .refine((n) => (brownoutStatuses as readonly number[]).includes(n), {
        message: `expected status ${brownoutStatuses.join(", ")}`,
      })
      .default(503),
    slow: share.optional().describe("share of origin connections slowed down"),
    delay: duration('"2s"').default(1000).describe("extra latency of the slowed share"),
  })
  .superRefine((fault, ctx) => {
    if (fault.errors === undefined && fault.slow === undefined) {
      ctx.addIssue({ code: "custom", path: ["errors"], message: "expected errors, slow or both" });
    }
  });
export type OriginBrownoutFault = z.infer<typeof originBrownoutFaultSchema>;

export const faultKinds = [
  "latency",
  "bandwidth",
  "timeout",
  "reset",
  "packet-loss",
  "node-kill",
  "partition",
  "stress",
  "origin-brownout",
] as const;
export const faultSchema = z.discriminatedUnion(
  "fault",
  [
    latencyFaultSchema,
    bandwidthFaultSchema,
    timeoutFaultSchema,
    resetFaultSchema,
    packetLossFaultSchema,
    nodeKillFaultSchema,
    partitionFaultSchema,
    stressFaultSchema,
    originBrownoutFaultSchema,
  ],
  {
    error: (issue) =>
      issue.code === "invalid_union" ? `expected fault to be one of: ${faultKinds.join(", ")}` : undefined,
  },
);
export type Fault = z.infer<typeof faultSchema>;
export type FaultKind = Fault["fault"];

export const safetySchema = z.strictObject({
  maxFaultDuration: duration('"30m"')
    .default(30 * 60_000)
    .describe("refuse a fault that ends later than this into the inject phase (catches 20m meant as 20s)"),
  minHealthyEdges: z
    .number()
    .int()
    .min(0)
    .default(1)
    .describe("refuse a plan that would leave fewer edges untouched at any moment"),
});

export const scoreWeightsSchema = z.strictObject({
  tolerance: weight.default(0.4),
  recovery: weight.default(0.3),
  restoration: weight.default(0.2),
  budget: weight.default(0.1),
});
export type ScoreWeights = z.infer<typeof scoreWeightsSchema>;
export const defaultScoreWeights: ScoreWeights = {
  tolerance: 0.4,
  recovery: 0.3,
  restoration: 0.2,
  budget: 0.1,
};

export const scoreSchema = z.strictObject({
  recoveryTarget: duration().default(15000).describe("the steady state must be back within this time"),
  weights: scoreWeightsSchema.default(defaultScoreWeights).describe("weights of the score's components"),
});

export const experimentSchema = z
  .strictObject({
    version: z.literal(1, { error: "expected version: 1" }),
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]*$/, { message: "expected a lowercase name of letters, digits and dashes" }),
    description: z.string().optional(),
    tags: z.array(z.string()).default([]),
    replica: z
      .string()
      .default("default")
      .describe("the replica to run against; `default` is the built-in PoP"),
    load: loadSchema,
    steadyState: steadyStateSchema,
    method: z.array(faultSchema).min(1, { message: "expected at least one fault" }),
    abort: z.array(abortConditionSchema).default([]),
    score: scoreSchema.default({ recoveryTarget: 15000, weights: defaultScoreWeights }),
    safety: safetySchema.default({ minHealthyEdges: 1, maxFaultDuration: 30 * 60_000 }),
  })
  .superRefine((experiment, ctx) => {
    experiment.method.forEach((fault, index) => {
      if (fault.for <= 0) {
        ctx.addIssue({
          code: "custom",
          path: ["method", index, "for"],
          message: "expected a duration above 0s",
        });
      }
      if (fault.at + fault.for > experiment.safety.maxFaultDuration) {
        ctx.addIssue({
          code: "custom",
          path: ["method", index, "for"],
          message: `expected the fault to end within safety.maxFaultDuration (${formatDuration(experiment.safety.maxFaultDuration)}); at + for is ${formatDuration(fault.at + fault.for)}`,
        });
      }
      if (fault.fault === "partition" && fault.target.kind === "name" && fault.from === fault.target.name) {
        ctx.addIssue({
          code: "custom",
          path: ["method", index, "from"],
          message: "expected another service than the target",
        });
      }
    });
  });
export type Experiment = z.infer<typeof experimentSchema>;
