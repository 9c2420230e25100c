import { describe, expect, it } from "vitest";
import { defaultScoreWeights } from "../../src/experiments/schema.js";
import { computeScore, type ScoreInput } from "../../src/verdict/score.js";

/** The worked example of docs/scoring.md, number for number. */
const workedExample: ScoreInput = {
  checks: [
    {
      name: "p99 under 300ms",
      weight: 2,
      inject: { windows: 6, held: 3, noData: 0 },
      verify: { windows: 3, held: 3, noData: 0 },
    },
    {
      name: "errors under 1%",
      weight: 1,
      inject: { windows: 6, held: 5, noData: 0 },
      verify: { windows: 3, held: 2, noData: 0 },
    },
  ],
  timeToRecoveryMs: 20_000,
  recoveryTargetMs: 15_000,
  inject: { requests: 3000, errors: 12 },
  errorBudgetRate: 0.01,
  weights: defaultScoreWeights,
};

const component = (score: ReturnType<typeof computeScore>, name: string) =>
  score.components.find((c) => c.name === name)?.value;

describe("computeScore", () => {
  it("reproduces the worked example of docs/scoring.md", () => {
    const score = computeScore(workedExample);
    expect(component(score, "tolerance")).toBeCloseTo(0.611, 3);
    expect(component(score, "recovery")).toBe(0.75);
    expect(component(score, "restoration")).toBeCloseTo(0.667, 3);
    expect(component(score, "budget")).toBeCloseTo(0.6, 10);
    expect(score.value).toBe(66.3);
    expect(score.formula).toBe(
      "100 × (0.4 × tolerance 0.611 + 0.3 × recovery 0.75 + 0.2 × restoration 0.667 + 0.1 × budget 0.6) / 1",
    );
  });

  it("scores 100 when everything held and nothing burned", () => {
    const score = computeScore({
      ...workedExample,
      checks: workedExample.checks.map((c) => ({
        ...c,
        inject: { windows: 6, held: 6, noData: 0 },
        verify: { windows: 3, held: 3, noData: 0 },
      })),
      timeToRecoveryMs: 0,
      inject: { requests: 3000, errors: 0 },
    });
    expect(score.value).toBe(100);
  });

  it("gives recovery 0 when the steady state never came back, and floors the budget at 0", () => {
    const score = computeScore({
      ...workedExample,
      timeToRecoveryMs: null,
      inject: { requests: 100, errors: 50 },
    });
    expect(component(score, "recovery")).toBe(0);
    expect(component(score, "budget")).toBe(0);
  });

  it("leaves a check without data out of the mean and lists it, never counting it as 0 or 100", () => {
    const withSilentCheck = computeScore({
      ...workedExample,
      checks: [
        ...workedExample.checks,
        {
          name: "origin p99",
          weight: 5,
          inject: { windows: 6, held: 0, noData: 6 },
          verify: { windows: 3, held: 0, noData: 3 },
        },
      ],
    });
    expect(withSilentCheck.value).toBe(66.3);
    expect(withSilentCheck.noData).toEqual(["origin p99"]);
  });

  it("drops a component with nothing to measure, and its weight", () => {
    const score = computeScore({ ...workedExample, inject: { requests: 0, errors: 0 } });
    expect(component(score, "budget")).toBeUndefined();
    // (0.4 × 0.6111 + 0.3 × 0.75 + 0.2 × 0.6667) / 0.9 = 0.6698
    expect(score.value).toBe(67);
  });

  it("honours configured weights", () => {
    const onlyRecovery = computeScore({
      ...workedExample,
      weights: { tolerance: 0, recovery: 1, restoration: 0, budget: 0 },
    });
    expect(onlyRecovery.value).toBe(75);
  });
});
