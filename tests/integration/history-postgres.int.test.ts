import { writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openHistory } from "../../src/history/open.js";
import { runCli } from "../support/cli.js";
import { historyConformance, historyReport } from "../support/history-conformance.js";
import { PostgresServer } from "../support/postgres.js";
import { leftovers, useReplica } from "../support/replica.js";
import { tempDir } from "../support/temp.js";

// The shared run history on a real PostgreSQL server the test starts itself: the store does
// what the SQLite store does (the same conformance tests), several processes may open a new
// database at once, and runs from separate `faultline run` processes, one given the URL by
// --history and one by FAULTLINE_HISTORY, land in one history that `faultline history` lists.
// A server that does not answer stops the run before anything is injected.

const NAME = "it-pg-history";
let server: PostgresServer | undefined;
let databases = 0;
const pgServer = () => {
  if (!server) throw new Error("PostgreSQL is not up");
  return server;
};
const newDatabase = () => pgServer().database(`history_${++databases}`);

beforeAll(async () => {
  const started = Date.now();
  server = await PostgresServer.start();
  console.log(`[pg-history] PostgreSQL up on 127.0.0.1:${server.port} in ${Date.now() - started} ms`);
});
afterAll(() => server?.stop());

describe("the PostgreSQL history", () => {
  historyConformance(async () => openHistory(await newDatabase()));

  it("two processes opening a new database at once migrate it once, and both record", async () => {
    const url = await newDatabase();
    const [a, b] = await Promise.all([openHistory(url), openHistory(url)]);
    try {
      const at = new Date().toISOString();
      await Promise.all([
        a.record(historyReport("shared", "r-from-a", at, 80), "runs/a"),
        b.record(historyReport("shared", "r-from-b", at, 90), "runs/b"),
      ]);
      expect((await a.list()).map((r) => r.id).sort()).toEqual(["r-from-a", "r-from-b"]);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe("the PostgreSQL history's rights and checks", () => {
  it("a user with rights on rows only uses a database that is set up; doctor reads a new one without creating anything", async () => {
    const url = await newDatabase();
    await (await openHistory(url)).close();
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query("CREATE ROLE fl_rows LOGIN");
      await admin.query("GRANT USAGE ON SCHEMA faultline TO fl_rows");
      await admin.query("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA faultline TO fl_rows");
      await admin.query("REVOKE CREATE ON SCHEMA public FROM PUBLIC");
    } finally {
      await admin.end();
    }
    const rowsOnly = await openHistory(url.replace("//fl@", "//fl_rows@"));
    try {
      await rowsOnly.record(historyReport("rights", "r-rows", new Date().toISOString(), 88), "runs/r");
      expect(await rowsOnly.count()).toBe(1);
    } finally {
      await rowsOnly.close();
    }
    const fresh = await newDatabase();
    const doctor = await runCli(["doctor", "--history", fresh, "--json"]);
    const finding = (
      JSON.parse(doctor.stdout) as { findings: { check: string; detail: string }[] }
    ).findings.find((f) => f.check === "runs and history");
    const probe = new pg.Client({ connectionString: fresh });
    await probe.connect();
    const schema = await probe.query("SELECT to_regnamespace('faultline') AS s").finally(() => probe.end());
    console.log(`[pg-history] rows-only user recorded a run; doctor on a new database: ${finding?.detail}`);
    expect(finding?.detail).toMatch(/no history yet .*the server answers/);
    expect(schema.rows[0]).toEqual({ s: null });
  });
});

describe("runs from separate processes in one PostgreSQL history", () => {
  useReplica(NAME);

  function experiment(name: string): string {
    const file = join(tempDir("faultline-pg-"), `${name}.yaml`);
    writeFileSync(
      file,
      `version: 1
name: ${name}
load: { rate: 20/s, warmup: 1s, timeout: 2s }
steadyState:
  window: 2s
  baseline: 2s
  recover: 2s
  verify: 2s
  checks: [{ name: errors under 5%, metric: errors.rate, below: 5% }]
method:
  - { fault: latency, target: edge-1, latency: 50ms, for: 2s }
`,
    );
    return file;
  }

  it("a run given --history and one given FAULTLINE_HISTORY are both listed by `faultline history`", async () => {
    const url = await newDatabase();
    const first = await runCli([
      "run",
      experiment("pg-first"),
      "--replica",
      NAME,
      "--runs-dir",
      tempDir("runs-a-"),
      "--history",
      url,
    ]);
    const second = await runCli(
      ["run", experiment("pg-second"), "--replica", NAME, "--runs-dir", tempDir("runs-b-")],
      { FAULTLINE_HISTORY: url },
    );
    const listed = await runCli(["history", "--history", url, "--json"]);
    const text = await runCli(["history", "--history", url]);
    const runs = (
      JSON.parse(listed.stdout) as { runs: { experiment: string; verdict: string; score: number }[] }
    ).runs;
    console.log(
      `[pg-history] two runs from two processes (exit ${first.code}, ${second.code}) in one history: ${runs.map((r) => `${r.experiment} ${r.verdict} ${r.score}`).join("; ")}`,
    );
    expect(first.code, first.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    expect(runs.map((r) => r.experiment).sort()).toEqual(["pg-first", "pg-second"]);
    expect(text.stdout).toMatch(/pg-first[\s\S]*score trend/);
  });

  it("a history server that does not answer stops the run before anything starts, exit 4", async () => {
    const unused = `it-pg-unreached`;
    const result = await runCli([
      "run",
      experiment("pg-unreached"),
      "--replica",
      unused,
      "--runs-dir",
      tempDir("runs-c-"),
      "--history",
      "postgres://fl:secret@127.0.0.1:1/none",
    ]);
    console.log(
      `[pg-history] unreachable history: exit ${result.code}: ${result.stderr.trim().split("\n")[0]}`,
    );
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(
      /cannot reach the run history at postgres:\/\/fl:\*\*\*@127\.0\.0\.1:1\/none/,
    );
    expect(result.stderr).not.toContain("secret");
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(await leftovers(unused)).toEqual({ containers: [], networks: [] });
  });
});
