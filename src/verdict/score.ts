import type { ScoreWeights } from "../experiments/schema.js";

// The resilience score, 0-100, explained. Inputs are plain numbers taken from a run's
// evaluation, so the formula is a pure function that docs/scoring.md's worked example and
// its unit test exercise directly. A component without data is left out and said so; it is
// never counted as 0 or 100.

export interface WindowTally {
  /** Windows of the phase in which the check applied. */
  windows: number;
  /** Windows in which it held. */
  held: number;
  /** Windows without any data: excluded from the ratio. */
  noData: number;
}

export interface ScoreInput {
  checks: {
    name: string;
    weight: number;
    inject: WindowTally | undefined;
    verify: WindowTally | undefined;
  }[];
  /** From the last revert until every check held again; null: never; undefined: not measured. */
  timeToRecoveryMs: number | null | undefined;
  recoveryTargetMs: number;
  /** Requests and errors during the inject phase. */
  inject: { requests: number; errors: number };
  /** The error rate the experiment's SLO allows (its strictest errors.rate check; 1% when it has none). */
  errorBudgetRate: number;
  weights: ScoreWeights;
}

export interface ScoreComponent {
  name: keyof ScoreWeights;
  weight: number;
  /** 0..1; undefined when there was nothing to measure (then it does not count). */
  value: number | undefined;
  explanation: string;
}

export interface Score {
  /** 0..100, one decimal. */
  value: number;
  components: ScoreComponent[];
  /** Checks that produced no data in a phase the score reads, by name. */
  noData: string[];
  formula: string;
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;
const pct = (n: number) => `${Math.round(n * 1000) / 10}%`;

export function computeScore(input: ScoreInput): Score {
  const noData = new Set<string>();
  const w = input.weights;
  const components: ScoreComponent[] = [
    toleranceComponent(input, w.tolerance, noData),
    recoveryComponent(input, w.recovery),
    restorationComponent(input, w.restoration, noData),
    budgetComponent(input, w.budget),
  ];
  const counted = components.filter((c) => c.value !== undefined && c.weight > 0);
  const totalWeight = counted.reduce((sum, c) => sum + c.weight, 0);
  const value =
    totalWeight === 0
      ? 0
      : (100 * counted.reduce((sum, c) => sum + c.weight * (c.value as number), 0)) / totalWeight;
  return {
    value: Math.round(value * 10) / 10,
    components,
    noData: [...noData],
    formula: `100 × (${counted.map((c) => `${c.weight} × ${c.name} ${round3(c.value as number)}`).join(" + ")}) / ${round3(totalWeight)}`,
  };
}

/** A check's tally of windows with data in a phase; undefined when it does not apply there. */
function withDataOf(
  c: ScoreInput["checks"][number],
  tally: WindowTally | undefined,
  noData: Set<string>,
): number | undefined {
  // No tally: the check does not apply in this phase; it is left out, and not as "no data".
  if (!tally) return undefined;
  const withData = tally.windows - tally.noData;
  if (withData <= 0) {
    noData.add(c.name);
    return undefined;
  }
  return withData;
}

/** Tolerance: per check, the share of inject windows (with data) in which it held; weighted. */
function toleranceComponent(input: ScoreInput, weight: number, noData: Set<string>): ScoreComponent {
  const tolerated = input.checks.flatMap((c) => {
    const withData = withDataOf(c, c.inject, noData);
    if (withData === undefined || !c.inject) return [];
    const { held } = c.inject;
    return [
      { name: c.name, weight: c.weight, share: held / withData, text: `${c.name} held ${held}/${withData}` },
    ];
  });
  return {
    name: "tolerance",
    weight,
    value: weightedMean(tolerated.map((t) => ({ weight: t.weight, value: t.share }))),
    explanation: tolerated.length
      ? `weighted share of inject windows held: ${tolerated.map((t) => `${t.text} (weight ${t.weight})`).join(", ")}`
      : "no check produced data under fault",
  };
}

/** Restoration: the (weighted) share of checks that held in every verify window with data. */
function restorationComponent(input: ScoreInput, weight: number, noData: Set<string>): ScoreComponent {
  const restored = input.checks.flatMap((c) => {
    const withData = withDataOf(c, c.verify, noData);
    if (withData === undefined || !c.verify) return [];
    return [{ name: c.name, weight: c.weight, value: c.verify.held === withData ? 1 : 0 }];
  });
  return {
    name: "restoration",
    weight,
    value: weightedMean(restored),
    explanation: restored.length
      ? `checks holding in every verify window: ${restored.filter((r) => r.value === 1).length}/${restored.length}`
      : "no check produced data after recovery",
  };
}

/** Recovery: 1 within the target, target / measured beyond it, 0 when it never came back. */
function recoveryComponent(input: ScoreInput, weight: number): ScoreComponent {
  const ttr = input.timeToRecoveryMs;
  const target = input.recoveryTargetMs;
  return {
    name: "recovery",
    weight,
    value: ttr === undefined ? undefined : ttr === null ? 0 : ttr <= target ? 1 : target / ttr,
    explanation:
      ttr === undefined
        ? "not measured (no inject phase)"
        : ttr === null
          ? "the steady state never came back"
          : ttr <= target
            ? `recovered in ${ttr / 1000}s, within the ${target / 1000}s target`
            : `recovered in ${ttr / 1000}s: target ${target / 1000}s / ${ttr / 1000}s`,
  };
}

/** Budget: 1 - errors under fault / errors the SLO allows for that many requests, floored at 0. */
function budgetComponent(input: ScoreInput, weight: number): ScoreComponent {
  const { requests, errors } = input.inject;
  const allowed = input.errorBudgetRate * requests;
  const budget =
    requests === 0 ? undefined : allowed === 0 ? (errors === 0 ? 1 : 0) : Math.max(0, 1 - errors / allowed);
  return {
    name: "budget",
    weight,
    value: budget,
    explanation:
      budget === undefined
        ? "no requests under fault"
        : `${errors} errors under fault; the ${pct(input.errorBudgetRate)} SLO allows ${round3(allowed)} of ${requests} requests`,
  };
}

function weightedMean(items: { weight: number; value: number }[]): number | undefined {
  const total = items.reduce((sum, i) => sum + i.weight, 0);
  if (items.length === 0 || total === 0) return undefined;
  return items.reduce((sum, i) => sum + i.weight * i.value, 0) / total;
}
