import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { History, trends } from "../../src/history/store.js";
import { buildReport, type RunReport } from "../../src/reports/model.js";
import { recordedRun } from "../support/journal.js";
import { tempDir } from "../support/temp.js";

const source = (name: string) => `version: 1
name: ${name}
load: { rate: 10/s }
steadyState:
  window: 2s
  checks:
    - { name: p99 under 100ms, metric: latency.p99, below: 100ms }
method:
  - { fault: latency, target: edge-1, latency: 150ms, for: 4s }
`;

function report(name: string, id: string, startedAt: string, score: number | null): RunReport {
  const events = recordedRun(source(name));
  const base = buildReport(events);
  return {
    ...base,
    run: { ...base.run, id, startedAt },
    score: score === null || !base.score ? null : { ...base.score, value: score },
  };
}

/** The trend as it was computed before: one query per experiment, newest first, reversed. */
function trendsOneQueryPerExperiment(history: History, limit: number) {
  return history.experiments().map((experiment) => ({
    experiment,
    scores: history
      .list({ experiment, limit })
      .reverse()
      .map((r) => r.score),
  }));
}

describe("the score trend", () => {
  it("is each experiment's last runs, oldest first, from one query", () => {
    const history = History.open(join(tempDir("faultline-history-"), "history.db"));
    try {
      const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();
      // b first, out of order, with a tie on started_at broken by id, and one unscored run.
      history.record(report("beta", "r-b2", at(2), 70), "runs/r-b2");
      history.record(report("beta", "r-b1", at(1), 60), "runs/r-b1");
      history.record(report("alpha", "r-a3", at(3), null), "runs/r-a3");
      history.record(report("alpha", "r-a1", at(1), 80), "runs/r-a1");
      history.record(report("alpha", "r-a2b", at(2), 85), "runs/r-a2b");
      history.record(report("alpha", "r-a2a", at(2), 90), "runs/r-a2a");
      history.record(report("alpha", "r-a4", at(4), 95.5), "runs/r-a4");

      const all = trends(history);
      expect(all.map((t) => ({ experiment: t.experiment, scores: t.scores }))).toEqual(
        trendsOneQueryPerExperiment(history, 10),
      );
      expect(all[0]).toEqual({
        experiment: "alpha",
        scores: [80, 90, 85, null, 95.5],
        latest: 95.5,
        change: 10.5,
        mean: 87.6,
      });
      expect(all[1]).toMatchObject({ experiment: "beta", scores: [60, 70], change: 10 });

      const last3 = trends(history, 3);
      expect(last3.map((t) => ({ experiment: t.experiment, scores: t.scores }))).toEqual(
        trendsOneQueryPerExperiment(history, 3),
      );
      expect(last3[0]?.scores).toEqual([85, null, 95.5]);
    } finally {
      history.close();
    }
  });

  it("is empty for an empty history", () => {
    const history = History.open(join(tempDir("faultline-history-"), "history.db"));
    try {
      expect(trends(history)).toEqual([]);
    } finally {
      history.close();
    }
  });
});
