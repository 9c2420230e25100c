import pg from "pg";
import { z } from "zod";
import { EnvironmentError, errorMessage } from "../errors.js";
import type { GateResult } from "../reports/junit.js";
import { type RunReport, runReportSchema } from "../reports/model.js";
import { checkRows, type HistoryRun, type HistoryStore, runRow, scoreRowSchema, toRun } from "./store.js";

// The run history in PostgreSQL, shared by every CLI, worker and CI job given its URL. Its
// tables live in their own schema, `faultline`, so they sit beside anything else in that
// database. Its version is a row of faultline.schema_version; migrations run in order on
// open, in one transaction under an advisory lock, so that several processes opening a new
// database at once migrate it once. Text columns that order or group runs use the "C"
// collation: the same order as SQLite's, whatever the database's locale.

const MIGRATIONS = [
  `CREATE TABLE faultline.runs (
     id TEXT COLLATE "C" PRIMARY KEY,
     experiment TEXT COLLATE "C" NOT NULL,
     file TEXT NOT NULL,
     replica TEXT NOT NULL,
     started_at TIMESTAMPTZ NOT NULL,
     duration_ms INTEGER,
     verdict TEXT NOT NULL,
     exit_code INTEGER NOT NULL,
     score DOUBLE PRECISION,
     gates_failed INTEGER NOT NULL DEFAULT 0,
     gates_total INTEGER NOT NULL DEFAULT 0,
     run_dir TEXT NOT NULL,
     report JSONB NOT NULL
   );
   CREATE INDEX runs_by_experiment ON faultline.runs (experiment, started_at);
   CREATE TABLE faultline.checks (
     run_id TEXT COLLATE "C" NOT NULL REFERENCES faultline.runs (id) ON DELETE CASCADE,
     name TEXT NOT NULL,
     phase TEXT NOT NULL,
     windows INTEGER NOT NULL,
     held INTEGER NOT NULL,
     no_data INTEGER NOT NULL,
     worst DOUBLE PRECISION,
     PRIMARY KEY (run_id, name, phase)
   );`,
];

/** The advisory lock key of the migrations: a constant of Faultline's own. */
const MIGRATION_LOCK = 7_306_092_544_573_728_613n;
const CONNECT_TIMEOUT_MS = 5000;
const QUERY_TIMEOUT_MS = 15_000;

/** postgres://user:***@host:port/db: the URL as messages show it. */
export function redactUrl(url: string): string {
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (!parsed) return "postgres://…";
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}

const RUN_COLUMNS = `id, experiment, file, replica, started_at, duration_ms, verdict, exit_code, score,
  gates_failed, gates_total, run_dir`;

/** A row as PostgreSQL returns it, its timestamp as the ISO text the reports carry. */
const pgRun = (row: Record<string, unknown>): HistoryRun => {
  const startedAt = row.started_at instanceof Date ? row.started_at.toISOString() : row.started_at;
  return toRun({ ...row, started_at: startedAt });
};

export class PostgresHistory implements HistoryStore {
  private constructor(
    private readonly client: pg.Client,
    readonly path: string,
  ) {}

  static async open(url: string): Promise<PostgresHistory> {
    const path = redactUrl(url);
    const client = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: QUERY_TIMEOUT_MS,
      application_name: "faultline",
    });
    // A connection lost while idle fails the next query (reported there), not the process.
    client.on("error", () => {});
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => {});
      throw new EnvironmentError(`cannot reach the run history at ${path}: ${errorMessage(error)}`, {
        suggestion:
          "start the PostgreSQL server or correct the URL (--history, FAULTLINE_HISTORY), or pass --no-history",
        cause: error,
      });
    }
    try {
      await migrate(client);
      return new PostgresHistory(client, path);
    } catch (error) {
      await client.end().catch(() => {});
      if (error instanceof EnvironmentError) throw error;
      throw new EnvironmentError(`cannot prepare the run history at ${path}: ${errorMessage(error)}`, {
        suggestion:
          "the URL's user needs to create a schema and tables in that database (or use another database)",
        cause: error,
      });
    }
  }

  async record(
    report: RunReport,
    runDir: string,
    gates: readonly GateResult[] = [],
    exitCode?: number,
  ): Promise<void> {
    const r = runRow(report, runDir, gates, exitCode);
    await this.transaction(async () => {
      await this.client.query("DELETE FROM faultline.checks WHERE run_id = $1", [r.id]);
      await this.client.query(
        `INSERT INTO faultline.runs (${RUN_COLUMNS}, report)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (id) DO UPDATE SET (${RUN_COLUMNS}, report) =
           (EXCLUDED.id, EXCLUDED.experiment, EXCLUDED.file, EXCLUDED.replica, EXCLUDED.started_at,
            EXCLUDED.duration_ms, EXCLUDED.verdict, EXCLUDED.exit_code, EXCLUDED.score,
            EXCLUDED.gates_failed, EXCLUDED.gates_total, EXCLUDED.run_dir, EXCLUDED.report)`,
        [
          r.id,
          r.experiment,
          r.file,
          r.replica,
          r.startedAt,
          r.durationMs === null ? null : Math.round(r.durationMs),
          r.verdict,
          r.exitCode,
          r.score,
          r.gatesFailed,
          r.gatesTotal,
          r.runDir,
          JSON.stringify(report),
        ],
      );
      for (const c of checkRows(report))
        await this.client.query(
          `INSERT INTO faultline.checks (run_id, name, phase, windows, held, no_data, worst)
           VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [r.id, c.name, c.phase, c.windows, c.held, c.noData, c.worst],
        );
    });
  }

  async list(
    options: { experiment?: string | undefined; limit?: number | undefined } = {},
  ): Promise<HistoryRun[]> {
    const limit = options.limit ?? 50;
    const { rows } = options.experiment
      ? await this.client.query(
          `SELECT ${RUN_COLUMNS} FROM faultline.runs WHERE experiment = $1
           ORDER BY started_at DESC, id DESC LIMIT $2`,
          [options.experiment, limit],
        )
      : await this.client.query(
          `SELECT ${RUN_COLUMNS} FROM faultline.runs ORDER BY started_at DESC, id DESC LIMIT $1`,
          [limit],
        );
    return rows.map(pgRun);
  }

  async experiments(): Promise<string[]> {
    const { rows } = await this.client.query(
      "SELECT DISTINCT experiment FROM faultline.runs ORDER BY experiment",
    );
    return rows.map((row) => z.object({ experiment: z.string() }).parse(row).experiment);
  }

  async latestScored(experiment: string, excluding?: string): Promise<RunReport | undefined> {
    const { rows } = await this.client.query(
      `SELECT report FROM faultline.runs WHERE experiment = $1 AND score IS NOT NULL AND id != $2
       ORDER BY started_at DESC, id DESC LIMIT 1`,
      [experiment, excluding ?? ""],
    );
    const [row] = rows;
    return row === undefined
      ? undefined
      : runReportSchema.parse(z.object({ report: z.unknown() }).parse(row).report);
  }

  async recentScores(limit: number): Promise<{ experiment: string; score: number | null }[]> {
    const { rows } = await this.client.query(
      `SELECT experiment, score FROM (
         SELECT experiment, score, started_at, id,
           ROW_NUMBER() OVER (PARTITION BY experiment ORDER BY started_at DESC, id DESC) AS newest
         FROM faultline.runs
       ) AS recent
       WHERE newest <= $1
       ORDER BY experiment, started_at, id`,
      [limit],
    );
    return rows.map((row) => scoreRowSchema.parse(row));
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => {});
  }

  private async transaction(body: () => Promise<void>): Promise<void> {
    await this.client.query("BEGIN");
    try {
      await body();
      await this.client.query("COMMIT");
    } catch (error) {
      await this.client.query("ROLLBACK").catch(() => {});
      throw error;
    }
  }
}

/** Brings the schema to the latest version; one process at a time (the advisory lock). */
async function migrate(client: pg.Client): Promise<void> {
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK.toString()]);
    await client.query("CREATE SCHEMA IF NOT EXISTS faultline");
    await client.query("CREATE TABLE IF NOT EXISTS faultline.schema_version (version INTEGER NOT NULL)");
    const { rows } = await client.query("SELECT version FROM faultline.schema_version");
    const version = rows.length ? z.object({ version: z.number() }).parse(rows[0]).version : 0;
    if (rows.length === 0) await client.query("INSERT INTO faultline.schema_version VALUES (0)");
    if (version > MIGRATIONS.length)
      throw new EnvironmentError(
        `the run history's schema is version ${version}; this Faultline knows versions up to ${MIGRATIONS.length}`,
        { suggestion: "upgrade Faultline, or give this one a history of its own" },
      );
    for (let v = version; v < MIGRATIONS.length; v++) await client.query(MIGRATIONS[v] as string);
    await client.query("UPDATE faultline.schema_version SET version = $1", [MIGRATIONS.length]);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  }
}
