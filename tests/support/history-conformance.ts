import { expect, it } from "vitest";
import { type HistoryStore, trends } from "../../src/history/store.js";
import { buildReport, type RunReport } from "../../src/reports/model.js";
import { latencyExperiment, recordedRun } from "./journal.js";

// What every history store does alike, SQLite (tests/unit/history.unit.test.ts) and
// PostgreSQL (tests/integration/history-postgres.int.test.ts): the same runs recorded give
// the same lists, trends and baselines.

export function historyReport(name: string, id: string, startedAt: string, score: number | null): RunReport {
  const events = recordedRun(latencyExperiment(name));
  const base = buildReport(events);
  return {
    ...base,
    run: { ...base.run, id, startedAt },
    score: score === null || !base.score ? null : { ...base.score, value: score },
  };
}

/** The trend as it was computed before: one query per experiment, newest first, reversed. */
async function trendsOneQueryPerExperiment(history: HistoryStore, limit: number) {
  const out = [];
  for (const experiment of await history.experiments())
    out.push({
      experiment,
      scores: (await history.list({ experiment, limit })).reverse().map((r) => r.score),
    });
  return out;
}

const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();

/** The store's tests; `open` gives a new, empty history each time. */
export function historyConformance(open: () => Promise<HistoryStore>): void {
  it("the score trend is each experiment's last runs, oldest first, from one query", async () => {
    const history = await open();
    try {
      // b first, out of order, with a tie on started_at broken by id, and one unscored run.
      await history.record(historyReport("beta", "r-b2", at(2), 70), "runs/r-b2");
      await history.record(historyReport("beta", "r-b1", at(1), 60), "runs/r-b1");
      await history.record(historyReport("alpha", "r-a3", at(3), null), "runs/r-a3");
      await history.record(historyReport("alpha", "r-a1", at(1), 80), "runs/r-a1");
      await history.record(historyReport("alpha", "r-a2b", at(2), 85), "runs/r-a2b");
      await history.record(historyReport("alpha", "r-a2a", at(2), 90), "runs/r-a2a");
      await history.record(historyReport("alpha", "r-a4", at(4), 95.5), "runs/r-a4");

      const all = await trends(history);
      expect(all.map((t) => ({ experiment: t.experiment, scores: t.scores }))).toEqual(
        await trendsOneQueryPerExperiment(history, 10),
      );
      expect(all[0]).toEqual({
        experiment: "alpha",
        scores: [80, 90, 85, null, 95.5],
        latest: 95.5,
        change: 10.5,
        mean: 87.6,
      });
      expect(all[1]).toMatchObject({ experiment: "beta", scores: [60, 70], change: 10 });

      const last3 = await trends(history, 3);
      expect(last3.map((t) => ({ experiment: t.experiment, scores: t.scores }))).toEqual(
        await trendsOneQueryPerExperiment(history, 3),
      );
      expect(last3[0]?.scores).toEqual([85, null, 95.5]);
    } finally {
      await history.close();
    }
  });

  it("a run recorded again replaces its row; the newest scored run is the baseline, in full", async () => {
    const history = await open();
    try {
      const first = historyReport("gamma", "r-g1", at(1), 70);
      await history.record(first, "runs/r-g1");
      await history.record(historyReport("gamma", "r-g2", at(2), null), "runs/r-g2");
      await history.record({ ...first, score: first.score && { ...first.score, value: 75 } }, "runs/r-g1", [
        { name: "score", ok: false, message: "under 80" },
      ]);
      const runs = await history.list({ experiment: "gamma" });
      expect(runs.map((r) => [r.id, r.score, r.gatesFailed, r.gatesTotal, r.startedAt])).toEqual([
        ["r-g2", null, 0, 0, at(2)],
        ["r-g1", 75, 1, 1, at(1)],
      ]);
      expect(runs[1]).toMatchObject({
        experiment: "gamma",
        runDir: "runs/r-g1",
        verdict: first.verdict.verdict,
      });
      const baseline = await history.latestScored("gamma");
      expect(baseline?.run.id).toBe("r-g1");
      expect(baseline?.checks).toEqual(first.checks);
      expect(await history.latestScored("gamma", "r-g1")).toBeUndefined();
      expect(await history.latestScored("nothing")).toBeUndefined();
    } finally {
      await history.close();
    }
  });

  it("an empty history has no runs and no trend", async () => {
    const history = await open();
    try {
      expect(await trends(history)).toEqual([]);
      expect(await history.list()).toEqual([]);
    } finally {
      await history.close();
    }
  });
}
