import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type JournalEvent, readJournal } from "../../src/journal/journal.js";
import { waitUntil } from "../../src/lifecycle/wait.js";
import { attachSeriesName } from "../../src/replica/attach-series.js";
import { runSuite } from "../../src/run/suite.js";
import { runCli, startCli, waitForOutput } from "../support/cli.js";
import { ComposePop, freePort } from "../support/compose-pop.js";
import { type PromSample, promQuery, seriesAfterRun } from "../support/promql.js";
import { tempDir } from "../support/temp.js";

// Fault windows in the stack's own Prometheus: attached to a Compose PoP that has one
// (examples/compose-pop with docker-compose.prometheus.yml), a run that asks for its series
// (replica.attach.series) serves them from a container of Faultline's on the stack's network;
// the stack's Prometheus scrapes faultline-series:8405. The series are there while the fault
// lasts and gone after it; the container is gone when the run ends, and after a SIGKILL
// `recover` removes it. The stack's own containers are untouched throughout.

const pop = new ComposePop(`fl-it-series-${process.pid}`, { prometheus: true });

const query = (promql: string) => promQuery(pop.prometheus, promql);

function experiment(pause: string, series = "true"): string {
  const file = join(tempDir("faultline-attach-series-"), "experiment.yaml");
  writeFileSync(
    file,
    `version: 1
name: attach-series
replica:
  attach:
    compose: ${pop.project}
    entry: ${pop.entry}
    stats: { path: /lb-stats, backend: edges }
    series: ${series}
    roles: { lb: [lb], edge: [edge-1, edge-2, edge-3], origin: [origin] }
load: { rate: 30/s, warmup: 1s, timeout: 2s }
steadyState:
  window: 2s
  baseline: 4s
  recover: 2s
  verify: 2s
  checks:
    - { name: errors under 50%, metric: errors.rate, below: 50% }
method:
  - { fault: node-kill, target: edge-1, mode: pause, for: ${pause} }
`,
  );
  return file;
}

const seriesContainers = async () =>
  (await pop.faultlineContainers()).filter((c) => c.name === attachSeriesName(pop.project));

describe("fault windows in an attached stack's own Prometheus", () => {
  beforeAll(async () => {
    await pop.up();
    await waitUntil(
      async () => {
        const ready = await fetch(`${pop.prometheus}/-/ready`).catch(() => undefined);
        return ready?.ok ? { done: true, value: undefined } : { done: false, reason: "not ready" };
      },
      { description: "the stack's Prometheus", timeoutMs: 30_000, intervalMs: 200 },
    );
  });

  afterAll(async () => {
    await pop.removeFaultlineContainers();
    pop.down();
  });

  it("the stack's Prometheus sees the fault while it lasts, and nothing of Faultline's is left", async () => {
    const before = await pop.snapshot();
    const port = await freePort();
    let during:
      | Promise<{ fault: PromSample[]; phase: PromSample[]; helpers: number; host: string }>
      | undefined;
    let runId = "";
    const started = Date.now() / 1000;
    const result = await runSuite({
      paths: [experiment("6s", `{ port: ${port} }`)],
      runsDir: tempDir("faultline-runs-"),
      edges: 3,
      signal: new AbortController().signal,
      onEvent: (event: JournalEvent) => {
        if (event.type === "run-started") runId = event.runId;
        if (event.type === "fault-applied")
          during = (async () => {
            await new Promise((r) => setTimeout(r, 4000));
            const of = `{run="${runId}"}`;
            return {
              fault: await query(`faultline_fault_active${of} == 1`),
              phase: await query(`faultline_run_phase${of}`),
              helpers: (await seriesContainers()).length,
              // A Prometheus on the host scrapes the published port.
              host: await fetch(`http://127.0.0.1:${port}/faultline/metrics`).then((r) => r.text()),
            };
          })();
      },
    });
    const run = result.runs[0];
    expect(run?.error).toBeUndefined();
    if (!during) throw new Error("the fault was never applied");
    const seen = await during;
    const { left: after, windowPoints: points } = await seriesAfterRun(pop.prometheus, runId, started, 4000);
    const where = readJournal(run?.journalPath ?? "").find((e) => e.type === "series");
    console.log(
      `[attach-series] served at ${where?.type === "series" ? where.where : "?"}; during the fault the stack's Prometheus had ${JSON.stringify(seen.fault.map((s) => s.metric))}, phase ${seen.phase[0]?.metric.phase}, ${seen.helpers} series container; 4 s after the run: ${after.length} series; the fault's window in its history: ${points} one-second points for a 6 s fault; verdict ${run?.evaluation?.verdict}`,
    );
    expect(seen.fault).toHaveLength(1);
    expect(seen.fault[0]?.metric).toMatchObject({
      job: "faultline",
      fault: "f1",
      kind: "node-kill",
      target: "edge-1",
      experiment: "attach-series",
    });
    expect(seen.phase[0]?.metric.phase).toBe("inject");
    expect(seen.helpers).toBe(1);
    expect(seen.host).toContain(`faultline_fault_active{run="${runId}"`);
    expect(where?.type === "series" ? where.where : "").toContain(`127.0.0.1:${port}`);
    expect(after).toEqual([]);
    expect(points).toBeGreaterThanOrEqual(4);
    expect(points).toBeLessThanOrEqual(9);
    await pop.edgesUp();
    await pop.expectUntouched(before, "after the run", "[attach-series]");
  });

  it("after a SIGKILL, `faultline recover` removes the series container", async () => {
    const before = await pop.snapshot();
    const cli = startCli(
      [
        "run",
        experiment("30s"),
        "--runs-dir",
        tempDir("faultline-runs-"),
        "--no-history",
        "--progress",
        "plain",
      ],
      { FAULTLINE_WATCHDOG: "0" },
    );
    await waitForOutput(cli, "applied  f1", 90_000);
    const held = (await seriesContainers()).length;
    cli.child.kill("SIGKILL");
    await cli.result;
    const recovered = await runCli(["recover", "--replica", pop.project]);
    console.log(
      `[attach-series] SIGKILL with ${held} series container running; recover exit ${recovered.code}:\n${recovered.stdout.trim()}`,
    );
    expect(held).toBe(1);
    expect(recovered.code).toBe(0);
    expect(recovered.stdout).toContain(`series container ${attachSeriesName(pop.project)}`);
    await pop.edgesUp();
    await pop.expectUntouched(before, "after recover", "[attach-series]");
  });
});
