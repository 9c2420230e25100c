import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { z } from "zod";
import { EnvironmentError, errorMessage } from "../errors.js";
import type { GateResult } from "../reports/junit.js";
import { type RunReport, runReportSchema } from "../reports/model.js";

// Run history in SQLite: one row per run (verdict, score, duration, gates) plus its checks'
// per-phase tallies, and the full JSON report so that `--baseline latest` needs no run folder.
// The schema version is SQLite's user_version; migrations run in order on open.

const MIGRATIONS = [
  `CREATE TABLE runs (
     id TEXT PRIMARY KEY,
     experiment TEXT NOT NULL,
     file TEXT NOT NULL,
     replica TEXT NOT NULL,
     started_at TEXT NOT NULL,
     duration_ms INTEGER,
     verdict TEXT NOT NULL,
     exit_code INTEGER NOT NULL,
     score REAL,
     gates_failed INTEGER NOT NULL DEFAULT 0,
     gates_total INTEGER NOT NULL DEFAULT 0,
     run_dir TEXT NOT NULL,
     report TEXT NOT NULL
   );
   CREATE INDEX runs_by_experiment ON runs (experiment, started_at);
   CREATE TABLE checks (
     run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
     name TEXT NOT NULL,
     phase TEXT NOT NULL,
     windows INTEGER NOT NULL,
     held INTEGER NOT NULL,
     no_data INTEGER NOT NULL,
     worst REAL,
     PRIMARY KEY (run_id, name, phase)
   );`,
];

const rowSchema = z.object({
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

const scoreRowSchema = z.object({ experiment: z.string(), score: z.number().nullable() });

const toRun = (row: unknown): HistoryRun => {
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

export class History {
  private constructor(
    private readonly db: Database.Database,
    readonly path: string,
  ) {}

  static open(path: string): History {
    let db: Database.Database | undefined;
    try {
      mkdirSync(dirname(path), { recursive: true });
      db = new Database(path);
      // One self-contained file (no -wal beside it), so a CI cache of history.db keeps it all.
      db.pragma("journal_mode = DELETE");
      db.pragma("foreign_keys = ON");
      const opened = db;
      const version = Number(opened.pragma("user_version", { simple: true }));
      for (let v = version; v < MIGRATIONS.length; v++) {
        opened.transaction(() => {
          opened.exec(MIGRATIONS[v] as string);
          opened.pragma(`user_version = ${v + 1}`);
        })();
      }
      return new History(opened, path);
    } catch (error) {
      db?.close();
      throw new EnvironmentError(`cannot open the run history ${path}: ${errorMessage(error)}`, {
        suggestion:
          "check that the folder is writable and the file is a Faultline history (move it aside to start a new one), or pass --no-history",
      });
    }
  }

  /** Stores (or replaces) a run. */
  record(report: RunReport, runDir: string, gates: readonly GateResult[] = [], exitCode?: number): void {
    const insertRun = this.db.prepare(
      `INSERT OR REPLACE INTO runs (id, experiment, file, replica, started_at, duration_ms, verdict, exit_code,
         score, gates_failed, gates_total, run_dir, report)
       VALUES (@id, @experiment, @file, @replica, @startedAt, @durationMs, @verdict, @exitCode, @score,
         @gatesFailed, @gatesTotal, @runDir, @report)`,
    );
    const insertCheck = this.db.prepare(
      `INSERT OR REPLACE INTO checks (run_id, name, phase, windows, held, no_data, worst)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      this.db.prepare("DELETE FROM checks WHERE run_id = ?").run(report.run.id);
      insertRun.run({
        id: report.run.id,
        experiment: report.run.experiment.name,
        file: report.run.experiment.file,
        replica: report.run.replica,
        startedAt: report.run.startedAt,
        durationMs: report.run.durationMs,
        verdict: report.verdict.verdict,
        exitCode: exitCode ?? report.verdict.exitCode,
        score: report.score?.value ?? null,
        gatesFailed: gates.filter((g) => !g.ok).length,
        gatesTotal: gates.length,
        runDir,
        report: JSON.stringify(report),
      });
      for (const check of report.checks) {
        for (const [phase, s] of Object.entries(check.phases)) {
          insertCheck.run(report.run.id, check.name, phase, s.windows, s.held, s.noData, s.worst);
        }
      }
    })();
  }

  /** Newest first. */
  list(options: { experiment?: string | undefined; limit?: number | undefined } = {}): HistoryRun[] {
    const rows = options.experiment
      ? this.db
          .prepare("SELECT * FROM runs WHERE experiment = ? ORDER BY started_at DESC, id DESC LIMIT ?")
          .all(options.experiment, options.limit ?? 50)
      : this.db
          .prepare("SELECT * FROM runs ORDER BY started_at DESC, id DESC LIMIT ?")
          .all(options.limit ?? 50);
    return rows.map(toRun);
  }

  experiments(): string[] {
    return this.db
      .prepare("SELECT DISTINCT experiment FROM runs ORDER BY experiment")
      .all()
      .map((row) => z.object({ experiment: z.string() }).parse(row).experiment);
  }

  /** The newest scored run of an experiment (other than `excluding`), with its full report. */
  latestScored(experiment: string, excluding?: string): RunReport | undefined {
    const row = this.db
      .prepare(
        "SELECT report FROM runs WHERE experiment = ? AND score IS NOT NULL AND id != ? ORDER BY started_at DESC, id DESC LIMIT 1",
      )
      .get(experiment, excluding ?? "");
    if (row === undefined) return undefined;
    return runReportSchema.parse(JSON.parse(z.object({ report: z.string() }).parse(row).report));
  }

  /** Per experiment (by name), the scores of its last `limit` runs, oldest first: one query. */
  recentScores(limit: number): { experiment: string; score: number | null }[] {
    return this.db
      .prepare(
        `SELECT experiment, score FROM (
           SELECT experiment, score, started_at, id,
             ROW_NUMBER() OVER (PARTITION BY experiment ORDER BY started_at DESC, id DESC) AS newest
           FROM runs
         )
         WHERE newest <= ?
         ORDER BY experiment, started_at, id`,
      )
      .all(limit)
      .map((row) => scoreRowSchema.parse(row));
  }

  close(): void {
    this.db.close();
  }
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
export function trends(history: History, limit = 10): Trend[] {
  const byExperiment = new Map<string, (number | null)[]>();
  for (const { experiment, score } of history.recentScores(limit)) {
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
