import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type JournalEvent, readJournal } from "../../src/journal/journal.js";
import { waitUntil } from "../../src/lifecycle/wait.js";
import { rawClient } from "../../src/replica/engine.js";
import { runSuite } from "../../src/run/suite.js";
import { windowStats } from "../../src/steady-state/metrics.js";
import { bucketsIn, metricsBuckets, phaseIntervals } from "../../src/verdict/evaluation.js";
import { runCli, startCli, waitForOutput } from "../support/cli.js";
import { ComposePop, rulesIn, startDecoy } from "../support/compose-pop.js";
import { pct } from "../support/experiment.js";
import { tempDir } from "../support/temp.js";

// Faultline attached to a Docker Compose PoP it did not start (examples/compose-pop), with
// the stack's own HAProxy and nginx configs: faults on its containers, the stack exactly as it
// was afterwards (also after a SIGKILL and `recover`), nothing outside the project touched.

const ROOT = join(import.meta.dirname, "../..");
const EXAMPLE = join(ROOT, "examples/compose-pop/experiment.yaml");
const pop = new ComposePop(`fl-it-attach-${process.pid}`);
const PROJECT = pop.project;
// The example's HAProxy: checks every 500ms, each given 500ms, fall 3.
const INTER = 500;
const CHECK_TIMEOUT = 500;
const FALL = 3;

let decoy = "";
let decoyBefore = "";

const entry = () => pop.entry;
const snapshot = () => pop.snapshot();
const edgesUp = () => pop.edgesUp();
const sidecars = async () => (await pop.faultlineContainers()).map((c) => c.name);

const expectUntouched = (before: Record<string, string>, when: string) =>
  pop.expectUntouched(before, when, "[attach]");

function attachYaml(method: string, checks = "[{ metric: errors.rate, below: 100% }]"): string {
  return `version: 1
name: attach-crash
${pop.replicaYaml}
load: { rate: 30/s, warmup: 1s, timeout: 2s }
steadyState:
  window: 2s
  baseline: 2s
  recover: 2s
  verify: 2s
  checks: ${checks}
method:
${method}
`;
}

function writeExperiment(text: string): string {
  const file = join(tempDir("faultline-attach-"), "experiment.yaml");
  writeFileSync(file, text);
  return file;
}

describe("attached to a running Docker Compose PoP", () => {
  beforeAll(async () => {
    const started = Date.now();
    await pop.up();
    try {
      // Labelled like one of the project's containers, on its network, but of another project.
      ({ id: decoy, state: decoyBefore } = await startDecoy(pop));
    } catch (error) {
      pop.down();
      throw error;
    }
    console.log(`[attach] compose project ${PROJECT} up on port ${pop.port} in ${Date.now() - started} ms`);
  });

  afterAll(async () => {
    if (decoy)
      await rawClient()
        .getContainer(decoy)
        .remove({ force: true })
        .catch(() => {});
    // Faultline's containers first: one left on the stack's network would fail its removal.
    await pop.removeFaultlineContainers();
    pop.down();
    expect(await pop.snapshot()).toEqual({});
  });

  it("the example experiment kills an edge; the stack's own HAProxy takes it out within its settings", async () => {
    const before = await snapshot();
    const progress: string[] = [];
    const result = await runSuite({
      paths: [EXAMPLE],
      params: { project: PROJECT, port: String(pop.port) },
      runsDir: tempDir("faultline-runs-"),
      edges: 3,
      seed: 7,
      signal: new AbortController().signal,
      onProgress: (m) => progress.push(m),
    });
    const run = result.runs[0];
    expect(run?.error).toBeUndefined();
    const events: JournalEvent[] = readJournal(run?.journalPath ?? "");
    const intent = events.find((e) => e.type === "fault-intent");
    const victim = intent?.type === "fault-intent" ? intent.target : "";
    const detectMs = run?.evaluation?.timings.detection[0]?.detectMs ?? null;
    const budget = (INTER + CHECK_TIMEOUT) * FALL + INTER + 500;
    const buckets = metricsBuckets(events);
    const phases = phaseIntervals(events, (buckets[buckets.length - 1]?.second ?? 0) + 1);
    const share = (phase: "baseline" | "inject" | "verify") => {
      const interval = phases.find((p) => p.phase === phase);
      const all = interval ? windowStats(bucketsIn(buckets, interval)).count : 0;
      const mine = interval ? windowStats(bucketsIn(buckets, interval), victim).count : 0;
      return all ? mine / all : 0;
    };
    console.log(
      `[attach] killed ${victim} (seed 7): the stack's HAProxy marked it down after ${detectMs} ms (inter ${INTER}ms, check timeout ${CHECK_TIMEOUT}ms, fall ${FALL}: budget ${budget} ms); its share of requests baseline ${pct(share("baseline"))}, inject ${pct(share("inject"))}, verify ${pct(share("verify"))}; verdict ${run?.evaluation?.verdict}, exit ${run?.exitCode}`,
    );
    console.log(`[attach] ${progress.filter((m) => /attached|not available/.test(m)).join(" | ")}`);
    expect(victim).toMatch(/^edge-[123]$/);
    expect(detectMs).not.toBeNull();
    expect(detectMs ?? Number.POSITIVE_INFINITY).toBeLessThan(budget);
    expect(share("baseline")).toBeGreaterThan(0.2);
    expect(share("verify")).toBeGreaterThan(0.1);
    expect(events.some((e) => e.type === "fault-reverted")).toBe(true);
    await edgesUp();
    await expectUntouched(before, "after the run");
  });

  it("after a SIGKILL mid-fault, `faultline recover` leaves the stack exactly as it was", async () => {
    const before = await snapshot();
    const file = writeExperiment(
      attachYaml(
        [
          "  - { fault: node-kill, target: edge-1, mode: pause, for: 40s }",
          "  - { fault: packet-loss, target: edge-2, loss: 30%, for: 40s }",
          "  - { fault: stress, target: edge-3, cpu: 1, for: 40s }",
          "  - { fault: partition, target: origin, from: edge-3, for: 40s }",
        ].join("\n"),
      ),
    );
    // No watchdog: what the CLI leaves is for `recover` alone to put right.
    const cli = startCli(
      ["run", file, "--runs-dir", tempDir("faultline-runs-"), "--no-history", "--progress", "plain"],
      { FAULTLINE_WATCHDOG: "0" },
    );
    await waitForOutput(cli, "applied  f4", 90_000);
    const during = await snapshot();
    const held = await sidecars();
    cli.child.kill("SIGKILL");
    await cli.result;
    expect(during["edge-1"]).toMatch(/paused/);
    const started = Date.now();
    const recovered = await runCli(["recover", "--replica", PROJECT]);
    console.log(
      `[attach] SIGKILL with edge-1 paused and ${held.length} netfilter sidecar(s) holding rules; recover exit ${recovered.code} in ${Date.now() - started} ms:\n${recovered.stdout.trim()}`,
    );
    expect(recovered.code).toBe(0);
    expect(recovered.stdout).toMatch(/edge-1/);
    await edgesUp();
    await expectUntouched(before, "after SIGKILL and recover");
  });

  it("after a SIGKILL mid-fault, the dead-man's switch alone restores the stack", async () => {
    const before = await snapshot();
    const file = writeExperiment(
      attachYaml(
        [
          "  - { fault: node-kill, target: edge-2, mode: pause, for: 40s }",
          "  - { fault: packet-loss, target: edge-3, loss: 20%, for: 40s }",
        ].join("\n"),
      ),
    );
    const cli = startCli([
      "run",
      file,
      "--runs-dir",
      tempDir("faultline-runs-"),
      "--no-history",
      "--progress",
      "plain",
    ]);
    await waitForOutput(cli, "applied  f2", 90_000);
    expect((await snapshot())["edge-2"]).toMatch(/paused/);
    cli.child.kill("SIGKILL");
    await cli.result;
    const killed = Date.now();
    await waitUntil(
      async () => {
        const now = await snapshot();
        const left = await sidecars();
        return now["edge-2"] === before["edge-2"] && left.length === 0
          ? { done: true, value: undefined }
          : { done: false, reason: `edge-2 ${now["edge-2"]}, ${left.length} sidecar(s)` };
      },
      { description: "the watchdog to revert the faults", timeoutMs: 30_000, intervalMs: 100 },
    );
    console.log(
      `[attach] the watchdog reverted a pause and a packet loss ${Date.now() - killed} ms after the SIGKILL`,
    );
    await edgesUp();
    await expectUntouched(before, "after SIGKILL and the watchdog");
  });

  it("refuses bad input with a clear error and injects nothing", async () => {
    const before = await snapshot();
    const cases: { what: string; yaml: string; code: number; message: RegExp }[] = [
      {
        what: "a project that does not exist",
        yaml: attachYaml("  - { fault: node-kill, target: edge-1, for: 5s }").replace(
          `compose: ${PROJECT}`,
          "compose: no-such-project",
        ),
        code: 4,
        message: /Compose project no-such-project has no containers/,
      },
      {
        what: "a role naming a service the project lacks",
        yaml: attachYaml("  - { fault: node-kill, target: edge-1, for: 5s }").replace(
          "edge-3]",
          "edge-3, edge-4]",
        ),
        code: 2,
        message: /edge-4 \(edge\), which Compose project .* does not have/,
      },
      {
        what: "an entry point the project does not publish",
        yaml: attachYaml("  - { fault: node-kill, target: edge-1, for: 5s }").replace(
          `entry: ${entry()}`,
          "entry: http://127.0.0.1:1",
        ),
        code: 2,
        message: /publishes no port 1 on loopback/,
      },
      {
        what: "an entry point off loopback",
        yaml: attachYaml("  - { fault: node-kill, target: edge-1, for: 5s }").replace(
          `entry: ${entry()}`,
          "entry: http://192.0.2.10:80",
        ),
        code: 2,
        message: /replica\.attach\.entry: expected an entry point on loopback/,
      },
      {
        what: "a target outside the project",
        yaml: attachYaml("  - { fault: node-kill, target: cache, for: 5s }"),
        code: 2,
        message: /method\[0\]\.target: no service "cache"/,
      },
      {
        what: "a link fault on the load balancer",
        yaml: attachYaml("  - { fault: latency, target: lb, latency: 100ms, for: 5s }"),
        code: 2,
        message: /lb is the load balancer, whose clients are outside it/,
      },
    ];
    for (const c of cases) {
      const result = await runCli([
        "run",
        writeExperiment(c.yaml),
        "--runs-dir",
        tempDir("faultline-runs-"),
        "--no-history",
      ]);
      const error =
        result.stderr.split("\n").find((l) => l.startsWith("error:") || /:\d+:\d+ /.test(l)) ?? "";
      console.log(`[attach] ${c.what}: exit ${result.code}: ${error}`);
      expect(result.code).toBe(c.code);
      expect(result.stderr).toMatch(c.message);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
    await expectUntouched(before, "after the bad input");
  });

  it("`replica down` on the attached stack is refused and removes nothing", async () => {
    const before = await snapshot();
    const down = await runCli(["replica", "down", "--replica", PROJECT]);
    console.log(`[attach] replica down: exit ${down.code}: ${down.stderr.trim().split("\n")[0]}`);
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(/not a replica it brought up/);
    const up = await runCli(["replica", "up", "--replica", PROJECT]);
    expect(up.code).toBe(2);
    // `inject` finds the stack again by its name, through the attach record of the runs above.
    const inject = await runCli([
      "inject",
      "packet-loss",
      "--target",
      "edge-3",
      "--for",
      "2s",
      "--set",
      "loss=10%",
      "--replica",
      PROJECT,
    ]);
    console.log(
      `[attach] inject on the attached stack: exit ${inject.code}: ${inject.stderr.trim().split("\n")[0]}`,
    );
    expect(inject.code).toBe(0);
    expect(await sidecars()).toEqual([]);
    const status = await runCli(["replica", "status", "--replica", PROJECT]);
    console.log(`[attach] replica status:\n${status.stdout.trim()}`);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/edge-2\s+edge\s+running\s+lb: up/);
    expect(await snapshot()).toEqual(before);
  });

  it("a container outside the project was never touched", async () => {
    const info = await rawClient().getContainer(decoy).inspect();
    console.log(`[attach] decoy of another project: ${info.State.Status}, started ${info.State.StartedAt}`);
    expect(JSON.stringify(info.State)).toBe(decoyBefore);
    expect(info.State.Running).toBe(true);
    expect(info.State.Paused).toBe(false);
    expect(await rulesIn(decoy)).not.toMatch(/FL[0-9a-f]/);
  });
});
