import { describe, expect, it } from "vitest";
import type { Check } from "../../src/experiments/schema.js";
import { evaluateRun, windowsOf } from "../../src/verdict/evaluation.js";
import { syntheticJournal } from "../support/journal.js";

const checks: Check[] = [
  {
    name: "p99 under 100ms",
    weight: 1,
    phases: ["baseline", "inject", "recover", "verify"],
    allowForMs: 0,
    metric: "latency.p99",
    comparator: "below",
    threshold: 100,
    thresholdText: "100ms",
  },
  {
    name: "errors under 1%",
    weight: 1,
    phases: ["baseline", "inject", "recover", "verify"],
    allowForMs: 0,
    metric: "errors.rate",
    comparator: "below",
    threshold: 0.01,
    thresholdText: "1%",
  },
];
const phases: [Parameters<typeof syntheticJournal>[1][number][0], number][] = [
  ["warmup", 0],
  ["baseline", 1],
  ["inject", 5],
  ["recover", 9],
  ["verify", 15],
];
const fast = { latencyMs: 5 };
const slow = { latencyMs: 300 };
const run = (seconds: Parameters<typeof syntheticJournal>[0]) =>
  evaluateRun(syntheticJournal(seconds, phases), checks);

describe("windowsOf", () => {
  it("splits a phase into windows, folding a short remainder into the last", () => {
    expect(windowsOf({ start: 0, end: 10 }, 5)).toEqual([
      { start: 0, end: 5 },
      { start: 5, end: 10 },
    ]);
    expect(windowsOf({ start: 3, end: 10 }, 5)).toEqual([{ start: 3, end: 10 }]);
    expect(windowsOf({ start: 0, end: 11 }, 5)).toEqual([
      { start: 0, end: 5 },
      { start: 5, end: 11 },
    ]);
    expect(windowsOf({ start: 0, end: 0 }, 5)).toEqual([]);
  });
});

describe("evaluateRun", () => {
  it("passes when every window held", () => {
    const evaluation = run(Array(19).fill(fast));
    expect(evaluation.verdict).toBe("passed");
    expect(evaluation.exitCode).toBe(0);
    expect(evaluation.timeToRecoveryMs).toBe(0);
  });

  it("is degraded when it deviated under fault and recovered within the target", () => {
    const seconds = [...Array(5).fill(fast), ...Array(4).fill(slow), slow, slow, ...Array(8).fill(fast)];
    const evaluation = run(seconds);
    expect(evaluation.verdict).toBe("degraded");
    expect(evaluation.exitCode).toBe(5);
    expect(evaluation.timeToRecoveryMs).toBe(2000);
    const p99 = evaluation.checks[0];
    expect(p99?.phases.inject).toMatchObject({ windows: 2, held: 0 });
    expect(p99?.phases.inject?.worst).toBeCloseTo(300, 0);
  });

  it("fails when recovery takes longer than the target", () => {
    const seconds = [
      ...Array(5).fill(fast),
      ...Array(4).fill(slow),
      ...Array(5).fill(slow),
      ...Array(5).fill(fast),
    ];
    const evaluation = run(seconds);
    expect(evaluation.verdict).toBe("failed");
    expect(evaluation.timeToRecoveryMs).toBe(5000);
    expect(evaluation.reason).toMatch(/beyond the 4s target/);
  });

  it("fails when the steady state never comes back", () => {
    const seconds = [...Array(5).fill(fast), ...Array(14).fill({ latencyMs: 5, errors: 5 })];
    const evaluation = run(seconds);
    expect(evaluation.verdict).toBe("failed");
    expect(evaluation.timeToRecoveryMs).toBeNull();
  });

  it("is inconclusive when the baseline does not hold, naming the check", () => {
    const evaluation = run([fast, slow, ...Array(17).fill(fast)]);
    expect(evaluation.verdict).toBe("inconclusive");
    expect(evaluation.exitCode).toBe(3);
    expect(evaluation.reason).toMatch(/p99 under 100ms: 300ms/);
  });

  it("treats a baseline without traffic as inconclusive, never as a pass", () => {
    const evaluation = run([
      fast,
      { latencyMs: 5, count: 0 },
      { latencyMs: 5, count: 0 },
      ...Array(16).fill(fast),
    ]);
    expect(evaluation.verdict).toBe("inconclusive");
    expect(evaluation.reason).toMatch(/no data/);
  });

  it("reports an interruption above everything else", () => {
    const events = syntheticJournal(Array(19).fill(fast), phases);
    events.push({ at: new Date(0).toISOString(), type: "interrupted", signal: "SIGINT" });
    expect(evaluateRun(events, checks)).toMatchObject({ verdict: "interrupted", exitCode: 130 });
  });
});

describe("check scoping and allowances", () => {
  const base = checks[0] as Check;

  it("a check scoped to some phases neither judges the baseline nor counts where it does not apply", () => {
    const injectOnly: Check = { ...base, name: "p99 under fault", phases: ["inject"] };
    // Slow at baseline (second 1-2), fine everywhere else.
    const seconds = [fast, slow, slow, ...Array(16).fill(fast)];
    expect(evaluateRun(syntheticJournal(seconds, phases), [base]).verdict).toBe("inconclusive");
    const evaluation = evaluateRun(syntheticJournal(seconds, phases), [injectOnly]);
    expect(evaluation.verdict).toBe("passed");
    expect(Object.keys(evaluation.checks[0]?.phases ?? {})).toEqual(["inject"]);
  });

  it("allowFor tolerates a breach no longer than the allowance, not a longer one", () => {
    // One slow 2-second window at the start of inject (seconds 5-7).
    const short = [...Array(5).fill(fast), slow, slow, ...Array(12).fill(fast)];
    // Two slow windows (seconds 5-9).
    const long = [...Array(5).fill(fast), ...Array(4).fill(slow), ...Array(10).fill(fast)];
    const allowing: Check = { ...base, allowForMs: 2000 };
    expect(evaluateRun(syntheticJournal(short, phases), [base]).verdict).toBe("degraded");
    const tolerated = evaluateRun(syntheticJournal(short, phases), [allowing]);
    expect(tolerated.verdict).toBe("passed");
    expect(tolerated.phases.find((p) => p.phase === "inject")?.windows[0]?.results[0]).toMatchObject({
      ok: false,
      tolerated: true,
    });
    expect(evaluateRun(syntheticJournal(long, phases), [allowing]).verdict).toBe("degraded");
  });

  it("between holds inside the range and breaks outside it", () => {
    const band: Check = {
      ...base,
      name: "p99 in band",
      comparator: "between",
      threshold: 1,
      thresholdHigh: 50,
    };
    expect(evaluateRun(syntheticJournal(Array(19).fill(fast), phases), [band]).verdict).toBe("passed");
    expect(evaluateRun(syntheticJournal(Array(19).fill({ latencyMs: 0.2 }), phases), [band]).verdict).toBe(
      "inconclusive",
    );
  });
});
