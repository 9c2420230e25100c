import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ToxiproxyApi } from "../../src/injectors/toxiproxy.js";
import { type JournalEvent, readJournal } from "../../src/journal/journal.js";
import { readLedger } from "../../src/lifecycle/ledger.js";
import { readLock } from "../../src/lifecycle/lock.js";
import { freeLoopbackPort } from "../../src/lifecycle/ports.js";
import { waitUntil } from "../../src/lifecycle/wait.js";
import { type DevServer, startDevServer } from "../../src/scale/temporal-cli.js";
import { windowStats } from "../../src/steady-state/metrics.js";
import { bucketsIn, metricsBuckets, phaseIntervals } from "../../src/verdict/evaluation.js";
import { type CliResult, runCli, startCli, waitForOutput } from "../support/cli.js";
import { ms } from "../support/experiment.js";
import { PostgresServer } from "../support/postgres.js";
import { useReplica } from "../support/replica.js";
import { tempDir } from "../support/temp.js";

// Game days on the scale-out engine, on a real Temporal dev server and a real worker (the CLI's
// `faultline worker`): the worker runs the suite against the real replica, the workflow applies
// and reverts each fault on its durable timers. The CLI may die (the game day goes on and
// writes its report), be halted (reverted at once, exit 130), or lose its worker (the host's
// dead-man's switch reverts the fault; the outcome says what happened).

const NAME = "it-temporal";
const TAG = "[temporal-run]";
let server: DevServer | undefined;
let address = "";
let worker: ReturnType<typeof startCli> | undefined;

const experiment = (name: string, faultFor: string, verify = "2s") => `version: 1
name: ${name}
replica: ${NAME}
load: { rate: 30/s, warmup: 1s, timeout: 2s }
steadyState:
  window: 2s
  baseline: 4s
  recover: 2s
  verify: ${verify}
  checks: [{ metric: errors.rate, below: 5% }]
method:
  - { fault: latency, target: edge-1, latency: 200ms, for: ${faultFor} }
`;

function writeExperiment(text: string): { file: string; runsDir: string } {
  const dir = tempDir("faultline-temporal-");
  writeFileSync(join(dir, "experiment.yaml"), text);
  return { file: join(dir, "experiment.yaml"), runsDir: join(dir, "runs") };
}

const runArgs = (file: string, runsDir: string) => [
  "run",
  file,
  "--temporal",
  address,
  "--runs-dir",
  runsDir,
  "--no-history",
  "--progress",
  "plain",
  "--edges",
  "2",
];

const gameDayId = (output: string) => /game day (gd-\S+) started/.exec(output)?.[1] ?? "";
const journalOf = (output: string) => /journal: (\S+journal\.jsonl)/.exec(output)?.[1] ?? "";

async function startWorker(): Promise<ReturnType<typeof startCli>> {
  const cli = startCli(["worker", "--temporal", address], {}, { outlivesTest: true });
  await waitForOutput(cli, "polls faultline-engine-local", 60_000);
  return cli;
}

/** Waits until the replica's Toxiproxy holds no toxic of Faultline's (polled every 50 ms). */
async function toxicsGone(api: string, description: string, timeoutMs: number): Promise<void> {
  const toxiproxy = new ToxiproxyApi(api);
  await waitUntil(
    async () =>
      (await toxiproxy.faultlineToxics()).length === 0
        ? { done: true, value: undefined }
        : { done: false, reason: "toxic still there" },
    { description, timeoutMs, intervalMs: 50 },
  );
}

/** The inject phase's start, and each fault event's lateness against its planned time. */
function timing(events: JournalEvent[]) {
  const at = (e: JournalEvent | undefined) => (e ? Date.parse(e.at) : Number.NaN);
  const inject = events.find((e) => e.type === "phase" && e.phase === "inject");
  const applied = events.find((e) => e.type === "fault-applied");
  const reverted = events.find((e) => e.type === "fault-reverted");
  return { inject: at(inject), applied: at(applied), reverted: at(reverted) };
}

function edgeP50(events: JournalEvent[], phase: string): number | undefined {
  const buckets = metricsBuckets(events);
  const phases = phaseIntervals(events, (buckets[buckets.length - 1]?.second ?? 0) + 1);
  const interval = phases.find((p) => p.phase === phase);
  return interval ? windowStats(bucketsIn(buckets, interval), "edge-1").latency?.p50 : undefined;
}

describe("game days on Temporal", () => {
  const replica = useReplica(NAME, 2);

  beforeAll(async () => {
    server = await startDevServer({ port: await freeLoopbackPort(), log: () => {} });
    address = server.address;
    worker = await startWorker();
  });

  afterAll(async () => {
    if (worker && worker.child.exitCode === null) {
      worker.child.kill("SIGINT");
      await worker.result;
    }
    server?.stop();
    await server?.exited;
  });

  it("runs an experiment through the worker: the workflow's timers apply and revert the fault, same verdict and report", async () => {
    const { file, runsDir } = writeExperiment(experiment("it-temporal-pass", "4s"));
    const result = await runCli(runArgs(file, runsDir));
    if (result.code !== 0)
      console.log(
        `${TAG} run --temporal failed: exit ${result.code} signal ${result.signal}: ${result.stderr} ${result.stdout}`,
      );
    const events = readJournal(journalOf(result.stdout));
    const t = timing(events);
    const plannedRevert = t.inject + 4000;
    console.log(
      `${TAG} run --temporal: exit ${result.code}; fault applied ${t.applied - t.inject} ms after the inject phase began, reverted ${t.reverted - plannedRevert} ms after its planned time; edge-1 p50 ${ms(edgeP50(events, "baseline"))} baseline, ${ms(edgeP50(events, "inject"))} inject; ${result.stdout.split("\n").find((l) => l.startsWith("verdict"))}`,
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/applied {2}f1: latency 200ms/);
    expect(result.stderr).toMatch(/reverted f1/);
    expect(result.stdout).toMatch(/^seed: \d+ \(--seed \d+ replays the target choices\)$/m);
    expect(existsSync(join(journalOf(result.stdout), "..", "report.json"))).toBe(true);
    expect(t.applied - t.inject).toBeLessThan(1000);
    expect(Math.abs(t.reverted - plannedRevert)).toBeLessThan(1000);
    expect((edgeP50(events, "inject") ?? 0) - (edgeP50(events, "baseline") ?? 0)).toBeGreaterThan(150);
  });

  it("SIGKILL of the CLI mid-fault: the game day goes on, reverts on schedule and writes its report", async () => {
    const { file, runsDir } = writeExperiment(experiment("it-temporal-cli-kill", "6s"));
    const cli = startCli(runArgs(file, runsDir));
    await waitForOutput(cli, "applied  f1", 90_000);
    const id = gameDayId(cli.output());
    const toxics = await new ToxiproxyApi(replica().endpoints.toxiproxy).faultlineToxics();
    cli.child.kill("SIGKILL");
    await cli.result;
    const watched = await runCli(["watch", id, "--temporal", address]);
    const events = readJournal(journalOf(watched.stdout));
    const t = timing(events);
    console.log(
      `${TAG} CLI SIGKILLed with ${toxics.length} toxic(s) held; \`watch ${id}\`: exit ${watched.code}; reverted ${t.reverted - (t.inject + 6000)} ms after its planned time; toxics after ${(await new ToxiproxyApi(replica().endpoints.toxiproxy).faultlineToxics()).length}; ledger ${readLedger(NAME).entries.length}`,
    );
    expect(toxics.length).toBe(1);
    expect(watched.code).toBe(0);
    expect(Math.abs(t.reverted - (t.inject + 6000))).toBeLessThan(1000);
    expect(existsSync(join(journalOf(watched.stdout), "..", "report.html"))).toBe(true);
    expect(await new ToxiproxyApi(replica().endpoints.toxiproxy).faultlineToxics()).toEqual([]);
    expect(readLedger(NAME).entries).toEqual([]);
  });

  it("`faultline halt` reverts the fault at once and ends the run interrupted (exit 130)", async () => {
    const { file, runsDir } = writeExperiment(experiment("it-temporal-halt", "60s"));
    const cli = startCli(runArgs(file, runsDir));
    await waitForOutput(cli, "applied  f1", 90_000);
    const id = gameDayId(cli.output());
    const sent = Date.now();
    const halted = await runCli(["halt", id, "--temporal", address]);
    await toxicsGone(replica().endpoints.toxiproxy, "the halt to revert the fault", 20_000);
    const revertedMs = Date.now() - sent;
    const result: CliResult = await cli.result;
    const events = readJournal(journalOf(result.stdout));
    const interrupted = events.find((e) => e.type === "interrupted");
    console.log(
      `${TAG} halt: exit ${halted.code}; toxic gone ${revertedMs} ms after \`halt\`; the run's CLI exit ${result.code}; journal: interrupted by ${interrupted?.type === "interrupted" ? interrupted.signal : "?"}`,
    );
    expect(halted.code).toBe(0);
    expect(result.code).toBe(130);
    expect(interrupted).toMatchObject({ signal: "halt" });
    expect(readLedger(NAME).entries).toEqual([]);
  });

  it("refuses, clearly and with nothing started: no server, no worker for the engine, a second worker, a bad file, a history that does not answer", async () => {
    const { file, runsDir } = writeExperiment(experiment("it-temporal-refused", "4s"));
    const noServer = await runCli(["run", file, "--temporal", "127.0.0.1:1", "--runs-dir", runsDir]);
    const noWorker = await runCli([...runArgs(file, runsDir), "--engine", "nobody"]);
    const second = await runCli(["worker", "--temporal", address]);
    const bad = writeExperiment(
      experiment("it-temporal-bad", "4s").replace("latency: 200ms", "latency: soon"),
    );
    const badFile = await runCli(runArgs(bad.file, bad.runsDir));
    const noHistory = await runCli([
      ...runArgs(file, runsDir).filter((a) => a !== "--no-history"),
      "--history",
      "postgres://fl:secret@127.0.0.1:1/none",
    ]);
    const first = (r: CliResult) => r.stderr.trim().split("\n")[0];
    console.log(
      `${TAG} refused: no server exit ${noServer.code} (${first(noServer)}); no worker exit ${noWorker.code} (${first(noWorker)}); second worker exit ${second.code} (${first(second)}); bad file exit ${badFile.code} (${first(badFile)}); unreachable history exit ${noHistory.code} (${first(noHistory)})`,
    );
    expect(noServer.code).toBe(4);
    expect(noServer.stderr).toMatch(/no Temporal server answers at 127\.0\.0\.1:1/);
    expect(noWorker.code).toBe(4);
    expect(noWorker.stderr).toMatch(/no worker for engine "nobody"/);
    expect(second.code).toBe(4);
    expect(second.stderr).toMatch(/engine "local" has a worker already/);
    expect(badFile.code).toBe(2);
    expect(badFile.stderr).toMatch(/experiment\.yaml:\d+:\d+ method\[0\]\.latency/);
    expect(badFile.stderr).not.toMatch(/game day/);
    expect(noHistory.code).toBe(4);
    expect(noHistory.stderr).toMatch(
      /cannot reach the run history at postgres:\/\/fl:\*\*\*@127\.0\.0\.1:1\/none/,
    );
    expect(noHistory.stderr).not.toMatch(/game day|secret/);
    expect(existsSync(runsDir) || existsSync(bad.runsDir)).toBe(false);
  });

  it("a schedule fires game days on its interval, each run lands in the history; a bad cron is refused", async () => {
    const { file, runsDir } = writeExperiment(experiment("it-temporal-sched", "2s", "2s"));
    const history = join(runsDir, "history.db");
    const schedule = (...args: string[]) => runCli(["schedule", ...args, "--temporal", address]);
    const badCron = await runCli(["schedule", "create", file, "--cron", "61 * * * *", "--temporal", address]);
    const created = await schedule(
      "create",
      file,
      ...["--every", "5s", "--id", "it-sched", "--runs-dir", runsDir, "--history", history, "--edges", "2"],
    );
    const started = Date.now();
    const finished = await waitUntil(
      async () => {
        const rows = JSON.parse(
          (await runCli(["history", "--history", history, "--json"])).stdout || "{}",
        ) as {
          runs?: { id: string; verdict: string }[];
        };
        const runs = rows.runs ?? [];
        return runs.length >= 2
          ? { done: true, value: runs }
          : { done: false, reason: `${runs.length} run(s) in the history` };
      },
      { description: "two scheduled game days in the history", timeoutMs: 120_000, intervalMs: 1000 },
    );
    const listed = await schedule("list", "--json");
    const paused = await schedule("pause", "it-sched");
    const deleted = await schedule("delete", "it-sched");
    // A game day the schedule fired before the pause goes on: the next test waits for its end.
    await waitUntil(
      async () =>
        readLock(NAME) === undefined
          ? { done: true, value: undefined }
          : { done: false, reason: "a scheduled game day still holds the replica" },
      { description: "the last scheduled game day to end", timeoutMs: 60_000, intervalMs: 500 },
    );
    const after = await schedule("list");
    console.log(
      `${TAG} schedule every 5s: 2 game days in the history ${Date.now() - started} ms after create (${finished.map((r) => `${r.id} ${r.verdict}`).join(", ")}); list: ${listed.stdout.replace(/\s+/g, " ").slice(0, 160)}; pause exit ${paused.code}, delete exit ${deleted.code}; bad cron exit ${badCron.code}: ${badCron.stderr.split("\n")[0]}`,
    );
    expect(created.code).toBe(0);
    expect(finished.every((r) => r.verdict === "passed")).toBe(true);
    expect(paused.code).toBe(0);
    expect(deleted.code).toBe(0);
    expect(after.stdout).toMatch(/no scheduled game days/);
    expect(badCron.code).toBe(2);
    expect(badCron.stderr).toMatch(/--cron "61 \* \* \* \*": Minute is not in range/);
    expect(readLedger(NAME).entries).toEqual([]);
  });

  it("two runs, from the workers of two engines, land in one PostgreSQL history", async () => {
    const postgres = await PostgresServer.start();
    const second = startCli(
      ["worker", "--temporal", address, "--engine", "second"],
      {},
      { outlivesTest: true },
    );
    try {
      await waitForOutput(second, "polls faultline-engine-second", 60_000);
      const url = await postgres.database("shared");
      const { file, runsDir } = writeExperiment(experiment("it-temporal-shared", "2s", "2s"));
      const args = [...runArgs(file, runsDir).filter((a) => a !== "--no-history"), "--history", url];
      const viaLocal = await runCli(args);
      const viaSecond = await runCli([...args, "--engine", "second"]);
      const listed = JSON.parse((await runCli(["history", "--history", url, "--json"])).stdout || "{}") as {
        runs?: { id: string; verdict: string }[];
      };
      const runs = listed.runs ?? [];
      const ran = (cli: ReturnType<typeof startCli>, r: CliResult) =>
        cli.output().includes(`[${gameDayId(r.stderr + r.stdout)}]`);
      console.log(
        `${TAG} shared history: engine local exit ${viaLocal.code} (its worker ran it: ${worker ? ran(worker, viaLocal) : "?"}), engine second exit ${viaSecond.code} (its worker ran it: ${ran(second, viaSecond)}); PostgreSQL history: ${runs.map((r) => `${r.id} ${r.verdict}`).join(", ")}`,
      );
      expect(viaLocal.code).toBe(0);
      expect(viaSecond.code).toBe(0);
      expect(worker && ran(worker, viaLocal)).toBe(true);
      expect(ran(second, viaSecond)).toBe(true);
      expect(ran(second, viaLocal)).toBe(false);
      expect(runs.map((r) => r.verdict)).toEqual(["passed", "passed"]);
    } finally {
      second.child.kill("SIGINT");
      await second.result;
      postgres.stop();
    }
  });

  it("SIGKILL of the worker mid-fault: its switch reverts the fault; the worker, back, closes the run with the verdict that fits", async () => {
    const { file, runsDir } = writeExperiment(experiment("it-temporal-worker-kill", "30s"));
    const cli = startCli(runArgs(file, runsDir));
    await waitForOutput(cli, "applied  f1", 90_000);
    const toxiproxy = new ToxiproxyApi(replica().endpoints.toxiproxy);
    const held = (await toxiproxy.faultlineToxics()).length;
    worker?.child.kill("SIGKILL");
    const killed = Date.now();
    await toxicsGone(replica().endpoints.toxiproxy, "the watchdog to revert the fault", 45_000);
    const revertedMs = Date.now() - killed;
    // The status query needs a worker: the CLI hears of the loss once one is back.
    worker = await startWorker();
    const result = await cli.result;
    const events = readJournal(journalOf(result.stdout));
    console.log(
      `${TAG} worker SIGKILLed with ${held} toxic(s) held: the switch reverted it ${revertedMs} ms later; with a worker back, the CLI ended ${Date.now() - killed} ms after the kill, exit ${result.code}; ${result.stdout.split("\n").find((l) => l.startsWith("verdict"))}`,
    );
    expect(held).toBe(1);
    expect(result.code).toBe(4);
    expect(result.stdout).toMatch(/verdict: ERRORED/);
    expect(result.stdout).toMatch(/the worker of engine local was lost mid-run/);
    expect(events.some((e) => e.type === "error")).toBe(true);
    expect(existsSync(join(journalOf(result.stdout), "..", "report.json"))).toBe(true);
    expect(readLedger(NAME).entries).toEqual([]);
  });
});
