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
  // node-postgres also takes the password as a query parameter.
  for (const key of [...parsed.searchParams.keys()])
    if (key.toLowerCase() === "password") parsed.searchParams.set(key, "***");
  return parsed.toString();
}

const COLUMNS = [
  "id",
  "experiment",
  "file",
  "replica",
  "started_at",
  "duration_ms",
  "verdict",
  "exit_code",
  "score",
  "gates_failed",
  "gates_total",
  "run_dir",
];
const RUN_COLUMNS = COLUMNS.join(", ");
const UPSERT_RUN = `INSERT INTO faultline.runs (${RUN_COLUMNS}, report)
  VALUES (${[...COLUMNS, "report"].map((_, i) => `$${i + 1}`).join(", ")})
  ON CONFLICT (id) DO UPDATE SET (${RUN_COLUMNS}, report) =
    (${[...COLUMNS, "report"].map((c) => `EXCLUDED.${c}`).join(", ")})`;

/** A row as PostgreSQL returns it, its timestamp as the ISO text the reports carry. */
const pgRun = (row: Record<string, unknown>): HistoryRun => {
  const startedAt = row.started_at instanceof Date ? row.started_at.toISOString() : row.started_at;
  return toRun({ ...row, started_at: startedAt });
};

export class PostgresHistory implements HistoryStore {
  private constructor(
    private readonly pool: pg.Pool,
    readonly path: string,
  ) {}

  /** Connects and brings the schema up to date (creating it on first use). */
  static async open(url: string): Promise<PostgresHistory> {
    const { pool, version, path } = await connect(url);
    try {
      if (version === undefined || version < MIGRATIONS.length) await migrate(pool);
      else if (version > MIGRATIONS.length) throw newerSchema(version);
      return new PostgresHistory(pool, path);
    } catch (error) {
      await pool.end().catch(() => {});
      throw historyError(error, path);
    }
  }

  /** Connects to read only (doctor): undefined where Faultline's tables are not there yet. */
  static async read(url: string): Promise<PostgresHistory | undefined> {
    const { pool, version, path } = await connect(url);
    if (version !== undefined) return new PostgresHistory(pool, path);
    await pool.end().catch(() => {});
    return undefined;
  }

  async record(
    report: RunReport,
    runDir: string,
    gates: readonly GateResult[] = [],
    exitCode?: number,
  ): Promise<void> {
    const r = runRow(report, runDir, gates, exitCode);
    // jsonb refuses the NUL character, which SQLite's text keeps; a report has no use for it.
    const json = JSON.stringify(report).replaceAll("\\u0000", "");
    await this.transaction(async (client) => {
      await client.query("DELETE FROM faultline.checks WHERE run_id = $1", [r.id]);
      await client.query(UPSERT_RUN, [
        r.id,
        r.experiment,
        r.file,
        r.replica,
        r.startedAt,
        r.durationMs,
        r.verdict,
        r.exitCode,
        r.score,
        r.gatesFailed,
        r.gatesTotal,
        r.runDir,
        json,
      ]);
      for (const c of checkRows(report))
        await client.query(
          `INSERT INTO faultline.checks (run_id, name, phase, windows, held, no_data, worst)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (run_id, name, phase) DO UPDATE SET (windows, held, no_data, worst) =
             (EXCLUDED.windows, EXCLUDED.held, EXCLUDED.no_data, EXCLUDED.worst)`,
          [r.id, c.name, c.phase, c.windows, c.held, c.noData, c.worst],
        );
    });
  }

  async list(
    options: { experiment?: string | undefined; limit?: number | undefined } = {},
  ): Promise<HistoryRun[]> {
    const limit = options.limit ?? 50;
    const { rows } = options.experiment
      ? await this.query(
          `SELECT ${RUN_COLUMNS} FROM faultline.runs WHERE experiment = $1
           ORDER BY started_at DESC, id DESC LIMIT $2`,
          [options.experiment, limit],
        )
      : await this.query(
          `SELECT ${RUN_COLUMNS} FROM faultline.runs ORDER BY started_at DESC, id DESC LIMIT $1`,
          [limit],
        );
    return rows.map(pgRun);
  }

  async experiments(): Promise<string[]> {
    const { rows } = await this.query("SELECT DISTINCT experiment FROM faultline.runs ORDER BY experiment");
    return rows.map((row) => z.object({ experiment: z.string() }).parse(row).experiment);
  }

  async latestScored(experiment: string, excluding?: string): Promise<RunReport | undefined> {
    const { rows } = await this.query(
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
    const { rows } = await this.query(
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

  async count(): Promise<number> {
    const { rows } = await this.query("SELECT count(*)::int AS n FROM faultline.runs");
    return z.object({ n: z.number() }).parse(rows[0]).n;
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => {});
  }

  /** One query; a failure is an EnvironmentError naming the history. */
  private async query(text: string, values: unknown[] = []): Promise<pg.QueryResult> {
    try {
      return await this.pool.query(text, values);
    } catch (error) {
      throw historyError(error, this.path);
    }
  }

  private async transaction(body: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    let client: pg.PoolClient | undefined;
    try {
      client = await this.pool.connect();
      await client.query("BEGIN");
      await body(client);
      await client.query("COMMIT");
    } catch (error) {
      await client?.query("ROLLBACK").catch(() => {});
      throw historyError(error, this.path);
    } finally {
      client?.release();
    }
  }
}

/** A pool of one connection (one lost between runs is replaced at the next query), and the schema's version. */
async function connect(url: string): Promise<{ pool: pg.Pool; version: number | undefined; path: string }> {
  const path = redactUrl(url);
  let pool: pg.Pool | undefined;
  try {
    pool = new pg.Pool({
      connectionString: url,
      max: 1,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: QUERY_TIMEOUT_MS,
      application_name: "faultline",
    });
    // A connection lost while idle fails the next query (reported there), not the process.
    pool.on("error", () => {});
    return { pool, version: await schemaVersion(pool), path };
  } catch (error) {
    await pool?.end().catch(() => {});
    throw historyError(error, path);
  }
}

/** A failure to reach or use the history, as an EnvironmentError (exit 4) naming it. */
function historyError(error: unknown, path: string): EnvironmentError {
  if (error instanceof EnvironmentError) return error;
  return new EnvironmentError(`cannot reach the run history at ${path}: ${errorMessage(error)}`, {
    suggestion:
      "start the PostgreSQL server or correct the URL (--history, FAULTLINE_HISTORY), or pass --no-history; on first use its user needs to create a schema and tables",
    cause: error,
  });
}

const newerSchema = (version: number) =>
  new EnvironmentError(
    `the run history's schema is version ${version}; this Faultline knows versions up to ${MIGRATIONS.length}`,
    { suggestion: "upgrade Faultline, or give this one a history of its own" },
  );

/** The schema's version, read without locks or writes; undefined before the first migration. */
async function schemaVersion(db: pg.Pool | pg.PoolClient): Promise<number | undefined> {
  const { rows } = await db.query("SELECT to_regclass('faultline.schema_version') IS NOT NULL AS there");
  if (!z.object({ there: z.boolean() }).parse(rows[0]).there) return undefined;
  const read = await db.query("SELECT version FROM faultline.schema_version");
  return read.rows.length ? z.object({ version: z.number() }).parse(read.rows[0]).version : 0;
}

/**
 * Brings the schema to the latest version, one process at a time: under the advisory lock the
 * version is read again, so processes opening a new database at once migrate it once.
 */
async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK.toString()]);
    await client.query("CREATE SCHEMA IF NOT EXISTS faultline");
    await client.query("CREATE TABLE IF NOT EXISTS faultline.schema_version (version INTEGER NOT NULL)");
    const version = (await schemaVersion(client)) ?? 0;
    if (version > MIGRATIONS.length) throw newerSchema(version);
    for (const migration of MIGRATIONS.slice(version)) await client.query(migration);
    await client.query("DELETE FROM faultline.schema_version");
    await client.query("INSERT INTO faultline.schema_version VALUES ($1)", [MIGRATIONS.length]);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
