import { z } from "zod";
import type { GateResult } from "../reports/junit.js";
import type { RunReport } from "../reports/model.js";

// The run history: one row per run (verdict, score, duration, gates) plus its checks'
// per-phase tallies, and the full JSON report so that `--baseline latest` needs no run folder.
// Two stores keep it, with one interface: SQLite in <runs-dir>/history.db, the embedded
// default (src/history/sqlite.ts), and PostgreSQL, shared by every CLI, worker and CI job that
// is given its URL (src/history/postgres.ts). openHistory() picks one by the location.

/** A run's row as both stores return it (PostgreSQL's timestamp turned into ISO text). */
export const rowSchema = z.object({
  id: z.string(),
  experiment: z.string(),
  file: z.string(),
  replica: z.string(),
  started_at: z.string(),
  duration_ms: z.number().nullable(),
  verdict: z.string(),
  exit_code: z.number(),
  score: z.number().nullable(),
  gates_failed: z.number(),
  gates_total: z.number(),
  run_dir: z.string(),
});

export interface HistoryRun {
  id: string;
  experiment: string;
  file: string;
  replica: string;
  startedAt: string;
  durationMs: number | null;
  verdict: string;
  exitCode: number;
  score: number | null;
  gatesFailed: number;
  gatesTotal: number;
  runDir: string;
}

export const scoreRowSchema = z.object({ experiment: z.string(), score: z.number().nullable() });

export const toRun = (row: unknown): HistoryRun => {
  const r = rowSchema.parse(row);
  return {
    id: r.id,
    experiment: r.experiment,
    file: r.file,
    replica: r.replica,
    startedAt: r.started_at,
    durationMs: r.duration_ms,
    verdict: r.verdict,
    exitCode: r.exit_code,
    score: r.score,
    gatesFailed: r.gates_failed,
    gatesTotal: r.gates_total,
    runDir: r.run_dir,
  };
};

/** The values of a run's row, as both stores write them. */
export function runRow(report: RunReport, runDir: string, gates: readonly GateResult[], exitCode?: number) {
  return {
    id: report.run.id,
    experiment: report.run.experiment.name,
    file: report.run.experiment.file,
    replica: report.run.replica,
    startedAt: report.run.startedAt,
    durationMs: report.run.durationMs === null ? null : Math.round(report.run.durationMs),
    verdict: report.verdict.verdict,
    exitCode: exitCode ?? report.verdict.exitCode,
    score: report.score?.value ?? null,
    gatesFailed: gates.filter((g) => !g.ok).length,
    gatesTotal: gates.length,
    runDir,
  };
}

/** A run's check rows: one per check and phase. */
export function checkRows(report: RunReport) {
  return report.checks.flatMap((check) =>
    Object.entries(check.phases).map(([phase, s]) => ({ name: check.name, phase, ...s })),
  );
}

export interface HistoryStore {
  /** Where it is, for messages: a file path, or a URL without its password. */
  readonly path: string;
  /** Stores (or replaces) a run. */
  record(report: RunReport, runDir: string, gates?: readonly GateResult[], exitCode?: number): Promise<void>;
  /** Newest first. */
  list(options?: { experiment?: string | undefined; limit?: number | undefined }): Promise<HistoryRun[]>;
  experiments(): Promise<string[]>;
  /** The newest scored run of an experiment (other than `excluding`), with its full report. */
  latestScored(experiment: string, excluding?: string): Promise<RunReport | undefined>;
  /** Per experiment (by name), the scores of its last `limit` runs, oldest first: one query. */
  recentScores(limit: number): Promise<{ experiment: string; score: number | null }[]>;
  /** How many runs it holds. */
  count(): Promise<number>;
  close(): Promise<void>;
}

export interface Trend {
  experiment: string;
  /** Oldest first. */
  scores: (number | null)[];
  latest: number | null;
  /** The latest score minus the previous scored run's; null without two scored runs. */
  change: number | null;
  mean: number | null;
}

/** Per experiment, its last `limit` runs' scores and how the latest compares. */
export async function trends(history: HistoryStore, limit = 10): Promise<Trend[]> {
  const byExperiment = new Map<string, (number | null)[]>();
  for (const { experiment, score } of await history.recentScores(limit)) {
    const scores = byExperiment.get(experiment) ?? [];
    scores.push(score);
    byExperiment.set(experiment, scores);
  }
  return [...byExperiment].map(([experiment, scores]) => {
    const scored = scores.filter((s): s is number => s !== null);
    const latest = scored.at(-1) ?? null;
    const previous = scored.at(-2);
    return {
      experiment,
      scores,
      latest,
      change: latest !== null && previous !== undefined ? Math.round((latest - previous) * 10) / 10 : null,
      mean: scored.length ? Math.round((scored.reduce((a, b) => a + b, 0) / scored.length) * 10) / 10 : null,
    };
  });
}
