import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { z } from "zod";
import { EnvironmentError, errorMessage } from "../errors.js";
import type { GateResult } from "../reports/junit.js";
import { type RunReport, runReportSchema } from "../reports/model.js";
import { checkRows, type HistoryRun, type HistoryStore, runRow, scoreRowSchema, toRun } from "./store.js";

// The run history in SQLite, the embedded default (<runs-dir>/history.db). The schema version
// is SQLite's user_version; migrations run in order on open.

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

export class SqliteHistory implements HistoryStore {
  private constructor(
    private readonly db: Database.Database,
    readonly path: string,
  ) {}

  static open(path: string): SqliteHistory {
    let db: Database.Database | undefined;
    try {
      mkdirSync(dirname(path), { recursive: true });
      db = new Database(path);
      // One self-contained file (no -wal beside it), so a CI cache of history.db keeps it all.
      db.pragma("journal_mode = DELETE");
      db.pragma("foreign_keys = ON");
      const opened = db;
      const version = Number(opened.pragma("user_version", { simple: true }));
      MIGRATIONS.slice(version).forEach((migration, i) => {
        opened.transaction(() => {
          opened.exec(migration);
          opened.pragma(`user_version = ${version + i + 1}`);
        })();
      });
      return new SqliteHistory(opened, path);
    } catch (error) {
      db?.close();
      throw new EnvironmentError(`cannot open the run history ${path}: ${errorMessage(error)}`, {
        suggestion:
          "check that the folder is writable and the file is a Faultline history (move it aside to start a new one), or pass --no-history",
      });
    }
  }

  async record(
    report: RunReport,
    runDir: string,
    gates: readonly GateResult[] = [],
    exitCode?: number,
  ): Promise<void> {
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
      insertRun.run({ ...runRow(report, runDir, gates, exitCode), report: JSON.stringify(report) });
      for (const c of checkRows(report))
        insertCheck.run(report.run.id, c.name, c.phase, c.windows, c.held, c.noData, c.worst);
    })();
  }

  async list(
    options: { experiment?: string | undefined; limit?: number | undefined } = {},
  ): Promise<HistoryRun[]> {
    const rows = options.experiment
      ? this.db
          .prepare("SELECT * FROM runs WHERE experiment = ? ORDER BY started_at DESC, id DESC LIMIT ?")
          .all(options.experiment, options.limit ?? 50)
      : this.db
          .prepare("SELECT * FROM runs ORDER BY started_at DESC, id DESC LIMIT ?")
          .all(options.limit ?? 50);
    return rows.map(toRun);
  }

  async experiments(): Promise<string[]> {
    return this.db
      .prepare("SELECT DISTINCT experiment FROM runs ORDER BY experiment")
      .all()
      .map((row) => z.object({ experiment: z.string() }).parse(row).experiment);
  }

  async latestScored(experiment: string, excluding?: string): Promise<RunReport | undefined> {
    const row = this.db
      .prepare(
        "SELECT report FROM runs WHERE experiment = ? AND score IS NOT NULL AND id != ? ORDER BY started_at DESC, id DESC LIMIT 1",
      )
      .get(experiment, excluding ?? "");
    if (row === undefined) return undefined;
    return runReportSchema.parse(JSON.parse(z.object({ report: z.string() }).parse(row).report));
  }

  async recentScores(limit: number): Promise<{ experiment: string; score: number | null }[]> {
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

  async count(): Promise<number> {
    return z.object({ n: z.number() }).parse(this.db.prepare("SELECT count(*) AS n FROM runs").get()).n;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
