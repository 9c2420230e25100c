import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import type { LoadedExperiment } from "../../src/experiments/loader.js";
import { planFaults } from "../../src/experiments/plan.js";
import { Journal, type JournalEvent, readJournal } from "../../src/journal/journal.js";
import type { Clock } from "../../src/lifecycle/wait.js";
import type { Replica } from "../../src/replica/replica.js";
import { defaultTopology } from "../../src/replica/topology.js";
import { experimentOf } from "../../src/reports/model.js";
import { FaultSession } from "../../src/run/fault-session.js";
import { resolvePlan } from "../../src/run/preflight.js";
import type { RunContext } from "../../src/run/run-context.js";
import { AbortConditionBreached, RunLoop } from "../../src/run/run-loop.js";
import { planOf } from "../../src/run/run-plan.js";
import { verdict } from "../../src/run/verdict-phase.js";
import * as evaluation from "../../src/verdict/evaluation.js";
import { recordedRun } from "../support/journal.js";
import { tempDir } from "../support/temp.js";

const source = `version: 1
name: phases-test
load: { rate: 10/s }
steadyState:
  window: 2s
  checks:
    - { name: p99 under 100ms, metric: latency.p99, below: 100ms }
abort:
  - { metric: errors.rate, above: 50%, for: 2s }
method:
  - { fault: latency, target: { role: edge, pick: 1 }, latency: 150ms, for: 4s }
`;

const replica: Replica = {
  topology: defaultTopology("default", 3),
  endpoints: { lb: "http://127.0.0.1:1", lbStats: "", toxiproxy: "", prometheus: "" },
};

/** A journal of a finished run up to its rollback (no verdict yet), with the experiment's source. */
function recordedEvents(): JournalEvent[] {
  return recordedRun(source, [5, 6]);
}

function fakeClock(start = 1_000_000): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
    advance: (ms) => {
      now += ms;
    },
  };
}

function context(events: JournalEvent[], clock: Clock = fakeClock()): RunContext {
  const experiment = experimentOf(events);
  const runDir = tempDir("faultline-phases-");
  const journal = new Journal(join(runDir, "journal.jsonl"));
  journal.onEvent((e) => events.push(e));
  const signal = new AbortController().signal;
  const plan = planOf(experiment);
  const loop = new RunLoop({ journal, clock, signal, experiment, windowSeconds: 2, settleMs: 0 });
  const session = new FaultSession(replica, "r", journal, { watchdog: false, second: () => loop.second() });
  return { runId: "r", runDir, experiment, replica, plan, journal, events, loop, session, signal };
}

describe("the verdict phase", () => {
  it("evaluates once, journals verdict, run-finished and the gates in that order, and writes the reports once with them", () => {
    const events = recordedEvents();
    const run = context(events);
    const evaluate = vi.spyOn(evaluation, "evaluateRun");
    const judge = vi.fn(() => ({
      gates: [{ name: "score at least 99", ok: false, message: "score 80 < 99" }],
      exitCode: 7 as const,
    }));
    const result = verdict(run, judge);
    expect(evaluate).toHaveBeenCalledTimes(1);
    evaluate.mockRestore();
    expect(judge).toHaveBeenCalledTimes(1);
    expect(judge.mock.calls[0]).toMatchObject([{ runId: "r", report: { verdict: { verdict: "degraded" } } }]);
    expect(readJournal(run.journal.path).map((e) => e.type)).toEqual(["verdict", "run-finished", "gates"]);
    expect(readJournal(run.journal.path)[2]).toMatchObject({
      type: "gates",
      exitCode: 7,
      gates: [{ ok: false }],
    });
    expect(result).toMatchObject({ exitCode: 7, gates: [{ name: "score at least 99" }] });
    expect(result.evaluation.verdict).toBe("degraded");
    const json = JSON.parse(readFileSync(join(run.runDir, "report.json"), "utf8"));
    expect(json).toMatchObject({ exitCode: 7, gates: [{ name: "score at least 99", ok: false }] });
    expect(result.reports?.html).toBe(join(run.runDir, "report.html"));
  });

  it("journals no gates event when nothing was judged, or the judgement changes nothing", () => {
    const plain = context(recordedEvents());
    const result = verdict(plain);
    expect(result).toMatchObject({ gates: [], exitCode: 5 });
    expect(readJournal(plain.journal.path).map((e) => e.type)).toEqual(["verdict", "run-finished"]);

    const same = context(recordedEvents());
    verdict(same, () => ({ gates: [], exitCode: 5 }));
    expect(readJournal(same.journal.path).map((e) => e.type)).toEqual(["verdict", "run-finished"]);
    expect(JSON.parse(readFileSync(join(same.runDir, "report.json"), "utf8")).gates).toBeUndefined();
  });

  it("still writes the reports (without gates) when judging fails, and lets the failure through", () => {
    const run = context(recordedEvents());
    expect(() =>
      verdict(run, () => {
        throw new Error("history unreadable");
      }),
    ).toThrow(/history unreadable/);
    expect(existsSync(join(run.runDir, "report.json"))).toBe(true);
    expect(readJournal(run.journal.path).map((e) => e.type)).toEqual(["verdict", "run-finished"]);
  });

  it("hands the judge the reason when the report cannot be built", () => {
    const events = recordedEvents();
    const run = context(events);
    const started = events[0];
    if (started?.type === "run-started") delete started.experiment.source;
    const result = verdict(run, (input) => ({
      gates: [{ name: "gates", ok: false, message: `could not: ${input.reportError}` }],
      exitCode: 7,
    }));
    expect(result.report).toBeUndefined();
    expect(result.reportError).toMatch(/recorded without its experiment/);
    expect(result.gates[0]?.message).toMatch(/recorded without its experiment/);
  });
});

describe("the run loop", () => {
  it("journals settled seconds as metrics and judges each window once it has settled", async () => {
    const clock = fakeClock();
    const run = context([...recordedEvents().slice(0, 1)], clock);
    const { loop } = run;
    loop.enterPhase("baseline", 0, 4);
    for (let second = 0; second < 4; second++)
      for (let i = 0; i < 10; i++)
        loop.addSample({
          startedAt: loop.t0 + second * 1000 + i,
          latencyMs: 5,
          status: 200,
          error: "",
          edge: "edge-1",
        });
    await loop.until(5000);
    const types = readJournal(run.journal.path).map((e) => e.type);
    expect(types.filter((t) => t === "metrics").length).toBeGreaterThanOrEqual(4);
    const windows = readJournal(run.journal.path).filter((e) => e.type === "window");
    expect(windows).toMatchObject([
      { phase: "baseline", start: 0, end: 2, results: [{ ok: true }] },
      { phase: "baseline", start: 2, end: 4, results: [{ ok: true }] },
    ]);
  });

  it("journals an abort condition breached under fault and stops the phases", async () => {
    const clock = fakeClock();
    const run = context([...recordedEvents().slice(0, 1)], clock);
    const { loop } = run;
    loop.watchAbortConditions({ start: 0, end: 4 });
    for (let second = 0; second < 3; second++)
      for (let i = 0; i < 10; i++)
        loop.addSample({
          startedAt: loop.t0 + second * 1000 + i,
          latencyMs: 5,
          status: 503,
          error: "",
          edge: "edge-1",
        });
    await expect(loop.until(4000)).rejects.toBeInstanceOf(AbortConditionBreached);
    expect(readJournal(run.journal.path).find((e) => e.type === "aborted")).toMatchObject({
      metric: "errors.rate",
      value: 1,
    });
  });

  it("ends the run when the replica guard reports a problem", async () => {
    const run = context([...recordedEvents().slice(0, 1)]);
    run.loop.watchReplica({ problem: () => "the Docker engine does not answer", stop: () => {} });
    await expect(run.loop.until(1000)).rejects.toThrow(/Docker engine does not answer/);
  });
});

describe("resolvePlan", () => {
  const loaded = { experiment: experimentOf(recordedEvents()), file: "x.yaml" } as LoadedExperiment;

  it("takes the caller's plan when it was resolved against the replica's topology", () => {
    const faults = planFaults(loaded.experiment, replica.topology, 42);
    expect(resolvePlan(loaded, replica, 42, { faults, topology: defaultTopology("default", 3) })).toBe(
      faults,
    );
  });

  it("resolves again, with the same seed, against a replica of another topology", () => {
    const faults = planFaults(loaded.experiment, defaultTopology("default", 5), 42);
    const plan = resolvePlan(loaded, replica, undefined, { faults, topology: defaultTopology("default", 5) });
    expect(plan).not.toBe(faults);
    expect(plan.seed).toBe(42);
    expect(replica.topology.edges).toContain(plan.actions[0]?.service);
  });
});
