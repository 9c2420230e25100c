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

  // Tolerance: per check, the share of inject windows (with data) in which it held; weighted.
  const tolerated = input.checks.flatMap((c) => {
    const tally = c.inject;
    // No tally: the check does not apply in this phase; it is left out, and not as "no data".
    if (!tally) return [];
    const withData = tally.windows - tally.noData;
    if (withData <= 0) {
      noData.add(c.name);
      return [];
    }
    return [
      {
        name: c.name,
        weight: c.weight,
        share: tally.held / withData,
        text: `${c.name} held ${tally.held}/${withData}`,
      },
    ];
  });
  const tolerance = weightedMean(tolerated.map((t) => ({ weight: t.weight, value: t.share })));

  // Restoration: the (weighted) share of checks that held in every verify window with data.
  const restored = input.checks.flatMap((c) => {
    const tally = c.verify;
    // No tally: the check does not apply in this phase; it is left out, and not as "no data".
    if (!tally) return [];
    const withData = tally.windows - tally.noData;
    if (withData <= 0) {
      noData.add(c.name);
      return [];
    }
    return [{ name: c.name, weight: c.weight, value: tally.held === withData ? 1 : 0 }];
  });
  const restoration = weightedMean(restored);

  // Recovery: 1 within the target, target / measured beyond it, 0 when it never came back.
  const ttr = input.timeToRecoveryMs;
  const recovery =
    ttr === undefined
      ? undefined
      : ttr === null
        ? 0
        : ttr <= input.recoveryTargetMs
          ? 1
          : input.recoveryTargetMs / ttr;

  // Budget: 1 - errors under fault / errors the SLO allows for that many requests, floored at 0.
  const allowed = input.errorBudgetRate * input.inject.requests;
  const budget =
    input.inject.requests === 0
      ? undefined
      : allowed === 0
        ? input.inject.errors === 0
          ? 1
          : 0
        : Math.max(0, 1 - input.inject.errors / allowed);

  const w = input.weights;
  const components: ScoreComponent[] = [
    {
      name: "tolerance",
      weight: w.tolerance,
      value: tolerance,
      explanation: tolerated.length
        ? `weighted share of inject windows held: ${tolerated.map((t) => `${t.text} (weight ${t.weight})`).join(", ")}`
        : "no check produced data under fault",
    },
    {
      name: "recovery",
      weight: w.recovery,
      value: recovery,
      explanation:
        ttr === undefined
          ? "not measured (no inject phase)"
          : ttr === null
            ? "the steady state never came back"
            : ttr <= input.recoveryTargetMs
              ? `recovered in ${ttr / 1000}s, within the ${input.recoveryTargetMs / 1000}s target`
              : `recovered in ${ttr / 1000}s: target ${input.recoveryTargetMs / 1000}s / ${ttr / 1000}s`,
    },
    {
      name: "restoration",
      weight: w.restoration,
      value: restoration,
      explanation: restored.length
        ? `checks holding in every verify window: ${restored.filter((r) => r.value === 1).length}/${restored.length}`
        : "no check produced data after recovery",
    },
    {
      name: "budget",
      weight: w.budget,
      value: budget,
      explanation:
        budget === undefined
          ? "no requests under fault"
          : `${input.inject.errors} errors under fault; the ${pct(input.errorBudgetRate)} SLO allows ${round3(allowed)} of ${input.inject.requests} requests`,
    },
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

function weightedMean(items: { weight: number; value: number }[]): number | undefined {
  const total = items.reduce((sum, i) => sum + i.weight, 0);
  if (items.length === 0 || total === 0) return undefined;
  return items.reduce((sum, i) => sum + i.weight * i.value, 0) / total;
}
