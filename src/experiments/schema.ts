import { z } from "zod";
import { duration, rate, share, weight } from "../format/unit-schemas.js";
import { formatDuration, parseBandwidth, parseBytes } from "../units.js";
import { abortConditionSchema, checkSchema } from "./check-schema.js";

export * from "./check-schema.js";

// The schema is the source of truth for the experiment format: types are inferred from it,
// docs/design.md describes it, and the loader turns its issues into located errors.

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

export const steadyStateSchema = z.strictObject({
  window: duration()
    .refine((ms) => ms >= 1000, { message: "expected a window of at least 1s (windows are whole seconds)" })
    .default(5000)
    .describe("checks are evaluated over windows of this length"),
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
export const popRoles = ["edge", "lb"] as const;
export const popLinks = ["uplink", "ingress"] as const;
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
      .strictObject({
        pop: z.string().min(1).describe("a PoP of a multi-PoP topology"),
        role: z
          .enum(popRoles, { error: `expected role to be one of ${popRoles.join(", ")}` })
          .optional()
          .describe("edge (default): its edges; lb: its load balancer"),
        link: z
          .enum(popLinks, { error: `expected link to be one of ${popLinks.join(", ")}` })
          .optional()
          .describe("uplink: its link to the origin (or shield); ingress: the global layer's link to it"),
        ...selectorFields,
      })
      .transform((t) => ({
        kind: "pop" as const,
        pop: t.pop,
        role: t.role,
        link: t.link,
        pick: t.pick,
        percent: t.percent,
      })),
    z
      .strictObject({ labels: z.record(z.string(), z.string()), ...selectorFields })
      .transform((t) => ({ kind: "labels" as const, labels: t.labels, pick: t.pick, percent: t.percent })),
  ],
  {
    error:
      "expected a service or link name (e.g. edge-1), { role: edge, pick: 1 }, { pop: pop-b }, { pop: pop-b, link: uplink } or { labels: {...}, percent: 50% }",
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
    cpu: z
      .number({ error: "expected a number of workers from 1 to 64" })
      .int({ message: "expected a whole number of workers from 1 to 64" })
      .min(1, { message: "expected a number of workers from 1 to 64" })
      .max(64, { message: "expected a number of workers from 1 to 64" })
      .optional()
      .describe("busy-looping workers, each about one core"),
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
    params: z
      .record(z.string(), z.union([z.string(), z.number()]).transform(String))
      .optional()
      .describe(
        "defaults for the placeholders ($ and the name in braces) in string values (override: --param name=value)",
      ),
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
    for (const name of Object.keys(experiment.params ?? {})) {
      if (!/^[a-zA-Z][a-zA-Z0-9_-]*$/.test(name))
        ctx.addIssue({
          code: "custom",
          path: ["params", name],
          message: "expected a parameter name of letters, digits, _ and - (starting with a letter)",
        });
    }
    const unique = (names: readonly string[], path: string[]) => {
      names.forEach((name, index) => {
        const first = names.indexOf(name);
        if (first === index) return;
        ctx.addIssue({
          code: "custom",
          path: [...path, index, "name"],
          message: `expected a name of its own; "${name}" is also ${path.join(".")}[${first}] (give each a distinct name:)`,
        });
      });
    };
    unique(
      experiment.steadyState.checks.map((c) => c.name),
      ["steadyState", "checks"],
    );
    unique(
      experiment.abort.map((a) => a.name),
      ["abort"],
    );
    // A probe sampled less often than its check is judged would leave windows without data.
    experiment.steadyState.checks.forEach((check, index) => {
      if (check.probe && check.probe.everyMs > experiment.steadyState.window) {
        ctx.addIssue({
          code: "custom",
          path: ["steadyState", "checks", index, "every"],
          message: `expected every at most steadyState.window (${formatDuration(experiment.steadyState.window)}), or some windows would have no sample`,
        });
      }
    });
    experiment.abort.forEach((condition, index) => {
      if (condition.probe && condition.probe.everyMs > condition.forMs) {
        ctx.addIssue({
          code: "custom",
          path: ["abort", index, "every"],
          message: `expected every at most the condition's for (${formatDuration(condition.forMs)}), or it could not be judged`,
        });
      }
    });
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
