import { z } from "zod";
import { InvalidInputError } from "../errors.js";
import { type Check, type Experiment, experimentSchema, unitOf } from "../experiments/schema.js";
import { parseLocated } from "../format/located-yaml.js";
import type { JournalEvent } from "../journal/journal.js";
import { type MetricsBucket, windowStats } from "../steady-state/metrics.js";
import { formatDuration } from "../units.js";
import { evaluateRun, metricsBuckets, phaseIntervals, type RunEvaluation } from "../verdict/evaluation.js";

// The run report: everything a reader (person or pipeline) needs about one run, computed from
// its journal alone. JSON, JUnit, Markdown and HTML are renderings of this one model. Its
// shape is versioned (`schema`); docs/reports.md describes it and report.schema.json is
// generated from the zod schema below.

export const REPORT_SCHEMA = "faultline.run-report/v1";

const num = z.number().nullable();
const phaseNames = ["warmup", "baseline", "inject", "recover", "verify"] as const;
const checkPhaseSummary = z.object({ windows: z.number(), held: z.number(), noData: z.number(), worst: num });

export const runReportSchema = z.object({
  schema: z.literal(REPORT_SCHEMA),
  run: z.object({
    id: z.string(),
    experiment: z.object({
      name: z.string(),
      file: z.string(),
      description: z.string().nullable(),
      tags: z.array(z.string()),
    }),
    replica: z.string(),
    startedAt: z.string().describe("ISO 8601"),
    finishedAt: z.string().nullable(),
    durationMs: num,
    seed: z.number(),
    load: z.object({ driver: z.string(), version: z.string(), url: z.string(), ratePerSecond: z.number() }),
  }),
  verdict: z.object({
    verdict: z.enum(["passed", "degraded", "failed", "aborted", "inconclusive", "interrupted", "errored"]),
    reason: z.string(),
    exitCode: z.number(),
  }),
  score: z
    .object({
      value: z.number().describe("0 to 100"),
      formula: z.string(),
      components: z.array(
        z.object({ name: z.string(), weight: z.number(), value: num, explanation: z.string() }),
      ),
      noData: z.array(z.string()),
    })
    .nullable()
    .describe("null for inconclusive, errored and interrupted runs"),
  timings: z.object({
    detection: z.array(z.object({ fault: z.string(), service: z.string(), detectMs: num })),
    failoverMs: num.describe("null: never, or no disruptive fault on an edge"),
    timeToRecoveryMs: num,
    recovery: z
      .enum(["measured", "never", "not measured"])
      .describe("never: the steady state did not come back; not measured: the run did not get that far"),
    recoveryTargetMs: z.number(),
    pops: z
      .object({
        share: z
          .record(z.string(), z.record(z.string(), z.number()))
          .describe("per phase, each PoP's share of the requests (0..1)"),
        failovers: z.array(
          z.object({
            fault: z.string(),
            pop: z.string(),
            kind: z.string(),
            detectMs: num.describe("until the global layer marked the PoP down; null: never"),
            movedMs: num.describe("until the PoP served no more requests (1 s resolution); null: never"),
            duringMove: z.object({
              requests: z.number(),
              errors: z.number(),
              errorRate: z.number(),
              p99Ms: num,
            }),
            backInRotationMs: num.describe("from the revert until the global layer marked it up"),
            failBackMs: num.describe("from the revert until it served requests again (1 s resolution)"),
            failBackApplies: z
              .boolean()
              .optional()
              .describe("false for a PoP that served nothing at baseline (a backup)"),
          }),
        ),
      })
      .optional()
      .describe("multi-PoP replicas only"),
  }),
  phases: z.array(z.object({ phase: z.enum(phaseNames), start: z.number(), end: z.number() })),
  checks: z.array(
    z.object({
      name: z.string(),
      metric: z.string(),
      unit: z.enum(["duration", "fraction", "rate", "number"]),
      comparator: z.string(),
      threshold: z.number(),
      thresholdHigh: num,
      thresholdText: z.string(),
      weight: z.number(),
      /** Per phase in which the check applied. */
      phases: z.partialRecord(z.enum(phaseNames), checkPhaseSummary),
      /** Broke (beyond its allowFor) in some window after the baseline. */
      broke: z.boolean(),
      windows: z.array(
        z.object({
          phase: z.enum(phaseNames),
          start: z.number(),
          end: z.number(),
          value: num,
          ok: z.boolean().nullable(),
          tolerated: z.boolean(),
          detail: z.string().nullable(),
        }),
      ),
    }),
  ),
  faults: z.array(
    z.object({
      id: z.string(),
      fault: z.string(),
      target: z.string(),
      description: z.string(),
      appliedSecond: num,
      revertedSecond: num,
      error: z.string().nullable(),
    }),
  ),
  abort: z
    .object({ condition: z.string(), second: z.number(), value: z.number(), threshold: z.number() })
    .nullable(),
  series: z
    .object({
      second: z.array(z.number()),
      requests: z.array(z.number()),
      errorRate: z.array(num),
      throughput: z.array(z.number()),
      p50: z.array(num),
      p95: z.array(num),
      p99: z.array(num),
    })
    .describe("one entry per second since the load started; latencies in milliseconds"),
});
export type RunReport = z.infer<typeof runReportSchema>;

const orNull = <T>(value: T | undefined): T | null => (value === undefined ? null : value);

type PhaseSummary = z.infer<typeof checkPhaseSummary>;

/** held: every window held; broke: some window breached; nodata: no breach, some window unmeasured. */
export function phaseStatus(
  s: Pick<PhaseSummary, "windows" | "held" | "noData">,
): "held" | "broke" | "nodata" {
  if (s.windows - s.held - s.noData > 0) return "broke";
  return s.noData > 0 ? "nodata" : "held";
}

export const phaseMark = (s: PhaseSummary) => ({ held: "✅", broke: "❌", nodata: "❔" })[phaseStatus(s)];

export function recoveryText(timings: RunReport["timings"]): string {
  if (timings.recovery === "not measured") return "not measured";
  if (timings.recovery === "never" || timings.timeToRecoveryMs === null) return "never";
  return formatDuration(timings.timeToRecoveryMs);
}

/** The experiment a run executed, from the source its journal recorded. */
export function experimentOf(events: readonly JournalEvent[]): Experiment {
  const started = events.find((e) => e.type === "run-started");
  if (started?.type !== "run-started") {
    throw new InvalidInputError("not the journal of an experiment run (no run-started event)", {
      suggestion: "pass a run id, a run folder, or its journal.jsonl",
    });
  }
  if (started.experiment.source === undefined) {
    throw new InvalidInputError(
      `run ${started.runId} was recorded without its experiment, so its checks cannot be re-evaluated`,
      { suggestion: "run the experiment again with this version of Faultline" },
    );
  }
  // The placeholders are filled as they were for the run: its own defaults, then the given values.
  return parseLocated(
    started.experiment.file,
    started.experiment.source,
    experimentSchema,
    started.experiment.params ?? {},
  ).data;
}

/**
 * The report of a run from its journal; `evaluation` is the run's evaluation of these events
 * when the caller has it already (the runner does), so that it is not computed twice.
 */
export function buildReport(events: readonly JournalEvent[], evaluation?: RunEvaluation): RunReport {
  const experiment = experimentOf(events);
  const started = events.find((e) => e.type === "run-started");
  if (started?.type !== "run-started") throw new Error("unreachable: experimentOf checked it");
  const checks = experiment.steadyState.checks;
  const evaluated = evaluation ?? evaluateRun(events, checks, experiment.score.weights);
  const buckets = metricsBuckets(events);
  const lastSecond = buckets.length ? (buckets[buckets.length - 1]?.second ?? 0) + 1 : 0;
  return {
    schema: REPORT_SCHEMA,
    run: reportRun(events, started, experiment),
    verdict: { verdict: evaluated.verdict, reason: evaluated.reason, exitCode: evaluated.exitCode },
    score: reportScore(evaluated.score),
    timings: reportTimings(evaluated),
    phases: phaseIntervals(events, lastSecond),
    checks: checks.map((check, index) => reportCheck(check, index, evaluated)),
    faults: reportFaults(events),
    abort: reportAbort(events),
    series: reportSeries(buckets),
  };
}

type RunStarted = Extract<JournalEvent, { type: "run-started" }>;

function reportRun(
  events: readonly JournalEvent[],
  started: RunStarted,
  experiment: Experiment,
): RunReport["run"] {
  const finished = events.find((e) => e.type === "run-finished");
  return {
    id: started.runId,
    experiment: {
      name: experiment.name,
      file: started.experiment.file,
      description: orNull(experiment.description),
      tags: experiment.tags,
    },
    replica: started.replica,
    startedAt: started.at,
    finishedAt: finished ? finished.at : null,
    durationMs: finished?.type === "run-finished" ? finished.durationMs : null,
    seed: started.seed,
    load: started.load,
  };
}

function reportScore(score: RunEvaluation["score"]): RunReport["score"] {
  if (!score) return null;
  return {
    value: score.value,
    formula: score.formula,
    components: score.components.map((c) => ({
      name: c.name,
      weight: c.weight,
      value: orNull(c.value),
      explanation: c.explanation,
    })),
    noData: score.noData,
  };
}

function reportTimings(evaluation: RunEvaluation): RunReport["timings"] {
  return {
    detection: evaluation.timings.detection,
    failoverMs: orNull(evaluation.timings.failoverMs),
    timeToRecoveryMs: orNull(evaluation.timeToRecoveryMs),
    recovery:
      evaluation.timeToRecoveryMs === undefined
        ? "not measured"
        : evaluation.timeToRecoveryMs === null
          ? "never"
          : "measured",
    recoveryTargetMs: evaluation.recoveryTargetMs,
    ...(evaluation.timings.pops ? { pops: evaluation.timings.pops } : {}),
  };
}

type ReportCheck = RunReport["checks"][number];

function reportCheck(check: Check, index: number, evaluation: RunEvaluation): ReportCheck {
  const summary = evaluation.checks[index];
  const windows = evaluation.phases.flatMap((phase) =>
    phase.windows.flatMap((w): ReportCheck["windows"] => {
      const r = w.results[index];
      if (!r || r.applies === false) return [];
      return [
        {
          phase: phase.phase,
          start: w.start,
          end: w.end,
          value: orNull(r.value),
          ok: orNull(r.ok),
          tolerated: r.tolerated === true,
          detail: orNull(r.detail),
        },
      ];
    }),
  );
  return {
    name: check.name,
    metric: check.metric,
    unit: unitOf(check.metric),
    comparator: check.comparator,
    threshold: check.threshold,
    thresholdHigh: orNull(check.thresholdHigh),
    thresholdText: check.thresholdText,
    weight: check.weight,
    phases: Object.fromEntries(
      Object.entries(summary?.phases ?? {}).map(([phase, s]) => [phase, { ...s, worst: orNull(s.worst) }]),
    ),
    broke: windows.some((w) => w.phase !== "baseline" && w.ok === false && !w.tolerated),
    windows,
  };
}

function reportFaults(events: readonly JournalEvent[]): RunReport["faults"] {
  const intents = events.flatMap((e) => (e.type === "fault-intent" ? [e] : []));
  return intents.map((intent) => {
    const of = <T extends JournalEvent["type"]>(type: T) =>
      events.find(
        (e): e is Extract<JournalEvent, { type: T }> => e.type === type && "id" in e && e.id === intent.id,
      );
    const applied = of("fault-applied");
    const reverted = of("fault-reverted");
    const failed = of("fault-apply-failed") ?? of("fault-revert-failed");
    return {
      id: intent.id,
      fault: intent.fault,
      target: intent.target,
      description: intent.description,
      appliedSecond: applied ? applied.second : null,
      revertedSecond: reverted ? reverted.second : null,
      error: failed ? failed.error : null,
    };
  });
}

function reportAbort(events: readonly JournalEvent[]): RunReport["abort"] {
  const aborted = events.find((e) => e.type === "aborted");
  return aborted?.type === "aborted"
    ? {
        condition: aborted.condition,
        second: aborted.second,
        value: aborted.value,
        threshold: aborted.threshold,
      }
    : null;
}

function reportSeries(buckets: readonly MetricsBucket[]): RunReport["series"] {
  const perSecond = buckets.map((b) => windowStats([b]));
  return {
    second: buckets.map((b) => b.second),
    requests: perSecond.map((s) => s.count),
    errorRate: perSecond.map((s) => orNull(s.errorRate)),
    throughput: perSecond.map((s) => s.count),
    p50: perSecond.map((s) => orNull(s.latency?.p50)),
    p95: perSecond.map((s) => orNull(s.latency?.p95)),
    p99: perSecond.map((s) => orNull(s.latency?.p99)),
  };
}

/** The JSON Schema of the report (docs/report.schema.json is this, written by `npm run schema`). */
export function reportJsonSchema(): string {
  return `${JSON.stringify(z.toJSONSchema(runReportSchema, { target: "draft-2020-12" }), null, 2)}\n`;
}
