import { z } from "zod";
import { faultSchema } from "../faults/registry.js";
import { duration, weight } from "../format/unit-schemas.js";
import { type AttachSettings, attachSchema } from "../replica/attach.js";
import { formatDuration } from "../units.js";
import { type AbortCondition, abortConditionSchema, type Check, checkSchema } from "./check-schema.js";
import { fromK6, parseK6Key } from "./k6-thresholds.js";
import { type Load, loadSchema } from "./load-schema.js";

export * from "./check-schema.js";

// The schema is the source of truth for the experiment format: types are inferred from it,
// docs/design.md describes it, and the loader turns its issues into located errors.

const attachReplicaSchema = z.strictObject({ attach: attachSchema });

/**
 * `replica`: a name or topology file, or `{ attach: ... }` (a running stack). Not a z.union:
 * a union would report a mistake inside `attach` as one "invalid input" at `replica`, where
 * this keeps every issue at its own field.
 */
const replicaField = z.unknown().transform((value, ctx): string | { attach: AttachSettings } => {
  if (typeof value === "string") return value;
  const parsed = attachReplicaSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const isMap = typeof value === "object" && value !== null && !Array.isArray(value);
  for (const issue of isMap ? parsed.error.issues : [])
    ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
  if (!isMap)
    ctx.addIssue({
      code: "custom",
      message:
        "expected a replica name, a topology file (a .yaml path) or { attach: { compose: PROJECT, ... } }",
    });
  return z.NEVER;
});

export { type Load, loadSchema } from "./load-schema.js";

export const steadyStateSchema = z
  .strictObject({
    window: duration()
      .refine((ms) => ms >= 1000, { message: "expected a window of at least 1s (windows are whole seconds)" })
      .default(5000)
      .describe("checks are evaluated over windows of this length"),
    baseline: duration().default(15000).describe("steady state measured before any fault; must hold"),
    recover: duration()
      .optional()
      .describe("time after the last revert in which recovery is measured (default: score.recoveryTarget)"),
    verify: duration().default(15000).describe("steady state measured after recovery; must hold again"),
    checks: z.array(checkSchema).default([]),
    thresholds: z
      .record(
        z.string(),
        z.array(z.string(), { error: 'expected a list of k6 thresholds, such as ["p(95)<200"]' }).min(1),
      )
      .optional()
      .describe(
        'k6\'s thresholds map: { http_req_duration: ["p(95)<200"], http_req_failed: ["rate<0.01"] }; each becomes a check',
      ),
  })
  .transform((steady, ctx) => {
    const { thresholds, ...rest } = steady;
    const checks = [...steady.checks, ...checksOfThresholds(thresholds ?? {}, ctx)];
    if (checks.length === 0)
      ctx.addIssue({ code: "custom", path: ["checks"], message: "expected at least one check" });
    return { ...rest, checks };
  });

/** k6's thresholds map, each expression a check: `http_req_duration{name:api}: ["p(95)<200"]`. */
function checksOfThresholds(thresholds: Record<string, string[]>, ctx: z.RefinementCtx): Check[] {
  return Object.entries(thresholds).flatMap(([key, expressions]) => {
    const scope = parseK6Key(key);
    if (typeof scope === "string") {
      ctx.addIssue({ code: "custom", path: ["thresholds", key], message: scope });
      return [];
    }
    return expressions.flatMap((threshold, index) => {
      const native = fromK6(scope.metric, threshold);
      if (typeof native === "string") {
        ctx.addIssue({ code: "custom", path: ["thresholds", key, index], message: native });
        return [];
      }
      const parsed = checkSchema.safeParse({
        threshold,
        ...(scope.metric === "http_reqs" ? { metric: "throughput" } : {}),
        ...(scope.request ? { request: scope.request } : {}),
      });
      if (parsed.success) return [parsed.data];
      for (const issue of parsed.error.issues)
        ctx.addIssue({ code: "custom", path: ["thresholds", key, index], message: issue.message });
      return [];
    });
  });
}
export type SteadyState = z.infer<typeof steadyStateSchema>;

export { type Target, targetSchema } from "../faults/fields.js";
export { type Fault, type FaultKindName as FaultKind, faultKinds, faultSchema } from "../faults/registry.js";

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
    // The name becomes part of each run's folder name (and id): bounded so it always can.
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]*$/, { message: "expected a lowercase name of letters, digits and dashes" })
      .max(63, {
        message: "expected a name of at most 63 characters (it becomes part of each run's folder name)",
      }),
    description: z.string().optional(),
    tags: z.array(z.string()).default([]),
    params: z
      .record(z.string(), z.union([z.string(), z.number()]).transform(String))
      .optional()
      .describe(
        "defaults for the placeholders ($ and the name in braces) in string values (override: --param name=value)",
      ),
    replica: replicaField
      .default("default")
      .describe(
        "the replica to run against; `default` is the built-in PoP; or { attach: ... } a running stack",
      ),
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
    refineRequestScopes(experiment, ctx);
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
    });
  });
export type Experiment = z.infer<typeof experimentSchema>;

/** A check or abort condition scoped to a request must name one of the load's named mix. */
function refineRequestScopes(
  experiment: { load: Load; steadyState: { checks: Check[] }; abort: AbortCondition[] },
  ctx: z.RefinementCtx,
): void {
  const names = experiment.load.mix ? experiment.load.requests.map((r) => r.name) : [];
  const conditions = [
    ...experiment.steadyState.checks.map((c, i) => ({ c, path: ["steadyState", "checks", i, "request"] })),
    ...experiment.abort.map((c, i) => ({ c, path: ["abort", i, "request"] })),
  ];
  for (const { c, path } of conditions) {
    if (c.request === undefined || names.includes(c.request)) continue;
    ctx.addIssue({
      code: "custom",
      path,
      message: names.length
        ? `expected the name of a request in load.requests (${names.join(", ")}), got "${c.request}"`
        : `expected request only with a named mix (load.requests); this load has one unnamed request`,
    });
  }
}
