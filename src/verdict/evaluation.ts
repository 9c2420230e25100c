import { ExitCode, type ExitCodeValue } from "../errors.js";
import {
  type Check,
  type CheckPhase,
  defaultScoreWeights,
  type ScoreWeights,
} from "../experiments/schema.js";
import type { JournalEvent, Phase } from "../journal/journal.js";
import {
  breaks,
  type CheckResult,
  formatValue,
  holds,
  judge,
  lacksData,
  type Measurements,
  measureConditions,
  type ProbeSample,
  probeKey,
  worstOf,
} from "../steady-state/checks.js";
import { type MetricsBucket, windowStats } from "../steady-state/metrics.js";
import { measurePopTimings } from "./pop-timings.js";
import { computeScore, type Score } from "./score.js";
import { measureTimings, type Timings } from "./timings.js";

// Everything here is a pure function of the journal: a verdict can be recomputed, and tested,
// from a recorded run without Docker.

export const verdicts = [
  "passed",
  "degraded",
  "failed",
  "aborted",
  "inconclusive",
  "interrupted",
  "errored",
] as const;
export type Verdict = (typeof verdicts)[number];

export const verdictExitCode: Record<Verdict, ExitCodeValue> = {
  passed: ExitCode.passed,
  failed: ExitCode.failed,
  inconclusive: ExitCode.inconclusive,
  errored: ExitCode.environment,
  degraded: ExitCode.degraded,
  aborted: ExitCode.aborted,
  interrupted: ExitCode.interrupted,
};

export interface Interval {
  start: number;
  end: number;
}

export interface WindowResult extends Interval {
  results: CheckResult[];
}

export interface PhaseResult extends Interval {
  phase: Phase;
  windows: WindowResult[];
}

export interface CheckPhaseSummary {
  windows: number;
  held: number;
  noData: number;
  /** The value furthest on the wrong side of the threshold (or closest to it when all held). */
  worst: number | undefined;
}

export interface CheckSummary {
  check: string;
  metric: string;
  comparator: string;
  threshold: number;
  phases: Partial<Record<Phase, CheckPhaseSummary>>;
}

export interface RunEvaluation {
  verdict: Verdict;
  reason: string;
  exitCode: ExitCodeValue;
  /** Milliseconds from the last revert until every check held again; null: never; undefined: not measured. */
  timeToRecoveryMs: number | null | undefined;
  recoveryTargetMs: number;
  phases: PhaseResult[];
  checks: CheckSummary[];
  /** Undefined for inconclusive, errored and interrupted runs: they measured nothing to score. */
  score: Score | undefined;
  timings: Timings;
}

/** Splits [start, end) into windows of `size` seconds; a short remainder joins the last window. */
export function windowsOf(interval: Interval, size: number): Interval[] {
  const length = interval.end - interval.start;
  if (length <= 0) return [];
  const full = Math.floor(length / size);
  if (full === 0) return [{ start: interval.start, end: interval.end }];
  return Array.from({ length: full }, (_, i) => ({
    start: interval.start + i * size,
    end: i === full - 1 ? interval.end : interval.start + (i + 1) * size,
  }));
}

export function bucketsIn(buckets: readonly MetricsBucket[], interval: Interval): MetricsBucket[] {
  return buckets.filter((b) => b.second >= interval.start && b.second < interval.end);
}

export function evaluateWindow(
  measurements: Measurements,
  interval: Interval,
  checks: readonly Check[],
  phase?: CheckPhase,
): WindowResult {
  const measured = measureConditions(checks, measurements, interval, (c) => probeKey("check", c.name));
  return {
    ...interval,
    results: checks.map((c, i) => judge(c, measured[i] ?? { value: undefined }, phase)),
  };
}

/**
 * A phase's windows with each check's allowance applied: a run of consecutive breaking
 * windows no longer than the check's allowFor is marked tolerated (reported, counted as held).
 */
export function evaluatePhase(
  measurements: Measurements,
  interval: Interval,
  checks: readonly Check[],
  phase: CheckPhase,
  windowSeconds: number,
): WindowResult[] {
  const windows = windowsOf(interval, windowSeconds).map((w) =>
    evaluateWindow(measurements, w, checks, phase),
  );
  checks.forEach((check, i) => {
    if (check.allowForMs <= 0) return;
    let runStart = 0;
    while (runStart < windows.length) {
      if ((windows[runStart] as WindowResult).results[i]?.ok !== false) {
        runStart++;
        continue;
      }
      let runEnd = runStart;
      while (runEnd + 1 < windows.length && (windows[runEnd + 1] as WindowResult).results[i]?.ok === false)
        runEnd++;
      const seconds = (windows[runEnd] as WindowResult).end - (windows[runStart] as WindowResult).start;
      if (seconds * 1000 <= check.allowForMs) {
        for (let k = runStart; k <= runEnd; k++) {
          const result = (windows[k] as WindowResult).results[i];
          if (result) result.tolerated = true;
        }
      }
      runStart = runEnd + 1;
    }
  });
  return windows;
}

/**
 * Each phase from its mark to the next one, capped at its planned length: the runner waits
 * for the baseline's requests to settle before the inject phase starts, and those seconds
 * in between belong to no phase (the runner judged the baseline without them).
 */
export function phaseIntervals(
  events: readonly JournalEvent[],
  lastSecond: number,
): { phase: Phase; start: number; end: number }[] {
  const started = events.find((e) => e.type === "run-started");
  const plan = started?.type === "run-started" ? started.plan : undefined;
  const planned: Partial<Record<Phase, number>> = plan
    ? {
        warmup: plan.warmupSeconds,
        baseline: plan.baselineSeconds,
        inject: plan.injectSeconds,
        recover: plan.recoverSeconds,
        verify: plan.verifySeconds,
      }
    : {};
  const marks = events.flatMap((e) => (e.type === "phase" ? [{ phase: e.phase, start: e.second }] : []));
  return marks.map((m, i) => {
    const length = planned[m.phase];
    const next = Math.min(marks[i + 1]?.start ?? lastSecond, lastSecond);
    return { ...m, end: length === undefined ? next : Math.min(next, m.start + length) };
  });
}

export function metricsBuckets(events: readonly JournalEvent[]): MetricsBucket[] {
  return events.flatMap((e) =>
    e.type === "metrics"
      ? [
          {
            second: e.second,
            all: e.all,
            byEdge: e.byEdge,
            ...(e.byRequest ? { byRequest: e.byRequest } : {}),
          },
        ]
      : [],
  );
}

export function probeSamples(events: readonly JournalEvent[]): ProbeSample[] {
  return events.flatMap((e) => {
    if (e.type !== "probe") return [];
    const { type: _type, at: _at, ...sample } = e;
    return [sample];
  });
}

export function measurementsOf(events: readonly JournalEvent[]): Measurements {
  const started = events.find((e) => e.type === "run-started");
  const pops = started?.type === "run-started" ? started.pops : undefined;
  return {
    buckets: metricsBuckets(events),
    probes: probeSamples(events),
    ...(pops ? { pops: Object.fromEntries(Object.entries(pops).map(([name, p]) => [name, p.edges])) } : {}),
  };
}

const allHeld = (w: WindowResult) => w.results.every(holds);

function describeFailure(w: WindowResult, kind: "failed" | "no data"): string {
  const bad = w.results.filter((r) => (kind === "failed" ? breaks(r) : lacksData(r)));
  return bad
    .map(
      (r) =>
        `${r.check}: ${formatValue(r.metric, r.value)}${r.detail ? ` (${r.detail})` : ""} (seconds ${w.start}-${w.end})`,
    )
    .join("; ");
}

/**
 * The error rate an experiment's SLO allows: its strictest errors.rate check with an upper
 * bound; 1% when it has none. The failover timing and the score's budget both use it.
 */
export function errorBudgetRate(checks: readonly Check[]): number {
  const sloRates = checks
    .filter((c) => c.metric === "errors.rate" && (c.comparator === "below" || c.comparator === "atMost"))
    .map((c) => c.threshold);
  return sloRates.length ? Math.min(...sloRates) : 0.01;
}

export function evaluateRun(
  events: readonly JournalEvent[],
  checks: readonly Check[],
  weights: ScoreWeights = defaultScoreWeights,
): RunEvaluation {
  const started = events.find((e) => e.type === "run-started");
  const windowSeconds = started?.type === "run-started" ? started.plan.windowSeconds : 5;
  const recoveryTargetMs = started?.type === "run-started" ? started.plan.recoveryTargetMs : 15_000;
  const measurements = measurementsOf(events);
  const { buckets } = measurements;
  const lastSecond = buckets.length ? (buckets[buckets.length - 1] as MetricsBucket).second + 1 : 0;

  const phases: PhaseResult[] = phaseIntervals(events, lastSecond).map((p) => ({
    ...p,
    windows: p.phase === "warmup" ? [] : evaluatePhase(measurements, p, checks, p.phase, windowSeconds),
  }));
  const phase = (name: Phase) => phases.find((p) => p.phase === name);
  const summaries = summarizeChecks(checks, phases);
  const inject = phase("inject");
  const timeToRecoveryMs = measureRecovery(
    measurements,
    checks,
    inject,
    phase("recover"),
    phase("verify"),
    windowSeconds,
  );
  const sloRate = errorBudgetRate(checks);
  const popTimings = measurePopTimings(events, buckets, phases);
  const timings = {
    ...measureTimings(events, buckets, inject, sloRate),
    ...(popTimings ? { pops: popTimings } : {}),
  };
  const { verdict, reason } = decideVerdict(events, phases, timeToRecoveryMs, recoveryTargetMs);
  const scored =
    verdict === "passed" || verdict === "degraded" || verdict === "failed" || verdict === "aborted";
  return {
    verdict,
    reason,
    exitCode: verdictExitCode[verdict],
    timeToRecoveryMs,
    recoveryTargetMs,
    phases,
    checks: summaries,
    timings,
    score:
      scored && inject
        ? scoreRun(summaries, checks, buckets, inject, {
            timeToRecoveryMs,
            recoveryTargetMs,
            sloRate,
            weights,
          })
        : undefined,
  };
}

function summarizeChecks(checks: readonly Check[], phases: readonly PhaseResult[]): CheckSummary[] {
  return checks.map((check, index) => ({
    check: check.name,
    metric: check.metric,
    comparator: check.comparator,
    threshold: check.threshold,
    phases: Object.fromEntries(
      phases
        .filter((p) => p.windows.some((w) => w.results[index]?.applies !== false))
        .map((p) => [
          p.phase,
          summarizeCheck(
            p.windows.map((w) => w.results[index] as CheckResult),
            check,
          ),
        ]),
    ),
  }));
}

type Decision = { verdict: Verdict; reason: string };

/** The verdict, in order: how the run stopped, then the baseline, then the faults and after. */
function decideVerdict(
  events: readonly JournalEvent[],
  phases: readonly PhaseResult[],
  timeToRecoveryMs: number | null | undefined,
  recoveryTargetMs: number,
): Decision {
  const phase = (name: Phase) => phases.find((p) => p.phase === name);
  const stopped = stopVerdict(events);
  if (stopped) return stopped;
  const baseline = baselineVerdict(phase("baseline"));
  if (baseline) return baseline;
  const inject = phase("inject");
  const verify = phase("verify");
  if (!inject || !verify)
    return { verdict: "errored", reason: "the run ended before its inject and verify phases" };
  return faultVerdict(inject, verify, timeToRecoveryMs, recoveryTargetMs);
}

/** Interrupted, errored or aborted: the run did not go its planned course. */
function stopVerdict(events: readonly JournalEvent[]): Decision | undefined {
  // Faults whose revert failed and never succeeded later: the ledger keeps them for `recover`.
  const reverted = new Set(events.flatMap((e) => (e.type === "fault-reverted" ? [e.id] : [])));
  const stuck = [
    ...new Set(
      events.flatMap((e) => (e.type === "fault-revert-failed" && !reverted.has(e.id) ? [e.id] : [])),
    ),
  ];
  const rollback = stuck.length
    ? `${stuck.join(", ")} could not be reverted (run \`faultline recover\`)`
    : "every fault was reverted";
  const interrupted = events.find((e) => e.type === "interrupted");
  if (interrupted?.type === "interrupted")
    return { verdict: "interrupted", reason: `interrupted by ${interrupted.signal}; ${rollback}` };
  const error = events.find((e) => e.type === "error");
  if (error?.type === "error") return { verdict: "errored", reason: error.message };
  const aborted = events.find((e) => e.type === "aborted");
  if (aborted?.type === "aborted") {
    const show = (v: number) => (aborted.metric ? formatValue(aborted.metric, v) : String(v));
    return {
      verdict: "aborted",
      reason: `abort condition "${aborted.condition}" breached at second ${aborted.second} (${show(aborted.value)} against ${show(aborted.threshold)}); ${stuck.length ? rollback : "every fault was reverted at once"}`,
    };
  }
  return undefined;
}

/** Inconclusive when the baseline was not measured, did not hold, or lacked data. */
function baselineVerdict(baseline: PhaseResult | undefined): Decision | undefined {
  if (!baseline || baseline.windows.length === 0)
    return { verdict: "inconclusive", reason: "no baseline was measured" };
  const baselineFailed = baseline.windows.find((w) => w.results.some(breaks));
  if (baselineFailed) {
    return {
      verdict: "inconclusive",
      reason: `the steady state did not hold at baseline, so no fault was injected: ${describeFailure(baselineFailed, "failed")}`,
    };
  }
  const baselineEmpty = baseline.windows.find((w) => w.results.some(lacksData));
  if (baselineEmpty)
    return {
      verdict: "inconclusive",
      reason: `no data at baseline: ${describeFailure(baselineEmpty, "no data")}`,
    };
  return undefined;
}

/** Passed, degraded or failed: how the steady state fared under fault and after it. */
function faultVerdict(
  inject: PhaseResult,
  verify: PhaseResult,
  timeToRecoveryMs: number | null | undefined,
  recoveryTargetMs: number,
): Decision {
  const deviated = inject.windows.filter((w) => w.results.some(breaks));
  // A check that could not be measured under fault did not hold: no pass on missing data.
  const unmeasured = inject.windows.filter((w) => w.results.some(lacksData));
  const verifyFailed = verify.windows.find((w) => !allHeld(w));
  if (deviated.length === 0 && unmeasured.length === 0 && !verifyFailed)
    return { verdict: "passed", reason: "the steady state held throughout the fault and after it" };
  if (verifyFailed) {
    return {
      verdict: "failed",
      reason: `the steady state did not hold after recovery: ${describeFailure(verifyFailed, verifyFailed.results.some(breaks) ? "failed" : "no data")}`,
    };
  }
  if (timeToRecoveryMs === null || timeToRecoveryMs === undefined)
    return { verdict: "failed", reason: "the steady state did not come back after the faults were reverted" };
  if (timeToRecoveryMs > recoveryTargetMs) {
    return {
      verdict: "failed",
      reason: `recovered in ${timeToRecoveryMs / 1000}s, beyond the ${recoveryTargetMs / 1000}s target`,
    };
  }
  const recovered = `recovered in ${timeToRecoveryMs / 1000}s (target ${recoveryTargetMs / 1000}s)`;
  if (deviated.length === 0) {
    return {
      verdict: "degraded",
      reason: `not measured in ${unmeasured.length} of ${inject.windows.length} windows under fault, so not known to have held (${describeFailure(unmeasured[0] as WindowResult, "no data")}); ${recovered}`,
    };
  }
  return {
    verdict: "degraded",
    reason: `deviated in ${deviated.length} of ${inject.windows.length} windows under fault (${describeFailure(deviated[0] as WindowResult, "failed")}); ${recovered}`,
  };
}

function scoreRun(
  summaries: readonly CheckSummary[],
  checks: readonly Check[],
  buckets: readonly MetricsBucket[],
  inject: Interval,
  run: {
    timeToRecoveryMs: number | null | undefined;
    recoveryTargetMs: number;
    sloRate: number;
    weights: ScoreWeights;
  },
): Score {
  const underFault = windowStats(bucketsIn(buckets, inject));
  return computeScore({
    checks: summaries.map((s, i) => ({
      name: s.check,
      weight: checks[i]?.weight ?? 1,
      inject: s.phases.inject,
      verify: s.phases.verify,
    })),
    timeToRecoveryMs: run.timeToRecoveryMs,
    recoveryTargetMs: run.recoveryTargetMs,
    inject: { requests: underFault.count, errors: underFault.errors },
    errorBudgetRate: run.sloRate,
    weights: run.weights,
  });
}

function summarizeCheck(all: CheckResult[], check: Check): CheckPhaseSummary {
  const results = all.filter((r) => r.applies !== false);
  const withData = results.filter((r) => r.value !== undefined);
  const failing = withData.filter(breaks);
  const pool = failing.length ? failing : withData;
  return {
    windows: results.length,
    held: results.filter((r) => r.value !== undefined && holds(r)).length,
    noData: results.length - withData.length,
    worst: worstOf(
      pool.map((r) => r.value as number),
      check,
    ),
  };
}

/**
 * Time from the end of the inject phase (the last revert) until a whole window in which every
 * check holds begins, sliding one second at a time through recover and verify.
 */
function measureRecovery(
  measurements: Measurements,
  checks: readonly Check[],
  inject: PhaseResult | undefined,
  recover: PhaseResult | undefined,
  verify: PhaseResult | undefined,
  windowSeconds: number,
): number | null | undefined {
  if (!inject || !recover) return undefined;
  if (inject.windows.every(allHeld)) return 0;
  const end = verify?.end ?? recover.end;
  for (let start = recover.start; start + windowSeconds <= end; start++) {
    if (allHeld(evaluateWindow(measurements, { start, end: start + windowSeconds }, checks, "recover"))) {
      return (start - recover.start) * 1000;
    }
  }
  return null;
}
