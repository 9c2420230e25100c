import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type JournalEvent, readJournal } from "../../src/journal/journal.js";
import { waitUntil } from "../../src/lifecycle/wait.js";
import { attachSchema } from "../../src/replica/attach.js";
import { attachToxiproxyName, ensureAttachToxiproxy } from "../../src/replica/attach-toxiproxy.js";
import { rawClient } from "../../src/replica/engine.js";
import { attachStack } from "../../src/replica/replica.js";
import { runSuite, type SuiteRun } from "../../src/run/suite.js";
import { windowStats } from "../../src/steady-state/metrics.js";
import { bucketsIn, metricsBuckets, phaseIntervals } from "../../src/verdict/evaluation.js";
import { runCli, startCli, waitForOutput } from "../support/cli.js";
import { ComposePop, rulesIn, startDecoy } from "../support/compose-pop.js";
import { ms, pct } from "../support/experiment.js";
import { tempDir } from "../support/temp.js";

// Link faults (latency, reset, timeout, bandwidth) on a Docker Compose PoP Faultline did not
// start (examples/compose-pop): the traffic into the target from its clients crosses
// Faultline's own Toxiproxy through a transparent redirect in the clients' namespaces. The
// stack's HAProxy and nginx are not restarted or reconfigured; afterwards (revert, SIGKILL and
// `recover`, the dead-man's switch) the same containers run, unpaused, with no FL chain in
// any namespace and no container of Faultline's left; a container of another project is never
// touched.

const pop = new ComposePop(`fl-it-links-${process.pid}`);
const TAG = "[attach-links]";
let decoy = { id: "", state: "" };

const attachYaml = (method: string, rate = "30/s") => `version: 1
name: attach-links
${pop.replicaYaml}
load: { rate: ${rate}, warmup: 1s, timeout: 2s }
steadyState:
  window: 2s
  baseline: 4s
  recover: 2s
  verify: 2s
  checks: [{ metric: errors.rate, below: 100% }]
method:
${method}
`;

function writeExperiment(text: string): string {
  const file = join(tempDir("faultline-links-"), "experiment.yaml");
  writeFileSync(file, text);
  return file;
}

/**
 * Sequential requests to the entry point: each one's time, by the edge that answered (X-Edge).
 * Under a fault on the origin, the one request that finds an edge's cache entry expired waits
 * on the origin (the run's load usually is that request): it is counted under "timed out".
 */
async function timeByEdge(requests: number): Promise<Map<string, number[]>> {
  const byEdge = new Map<string, number[]>();
  const add = (edge: string, took: number) => byEdge.set(edge, [...(byEdge.get(edge) ?? []), took]);
  for (let i = 0; i < requests; i++) {
    const started = performance.now();
    try {
      const response = await fetch(`${pop.entry}/`, { signal: AbortSignal.timeout(3000) });
      await response.text();
      add(response.headers.get("x-edge") ?? "?", performance.now() - started);
    } catch (error) {
      if (!(error instanceof DOMException && error.name === "TimeoutError")) throw error;
      add("timed out", performance.now() - started);
    }
  }
  return byEdge;
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

async function runExperiment(method: string, onEvent?: (event: JournalEvent) => void) {
  const result = await runSuite({
    paths: [writeExperiment(attachYaml(method))],
    runsDir: tempDir("faultline-runs-"),
    edges: 3,
    seed: 1,
    signal: new AbortController().signal,
    ...(onEvent ? { onEvent: (event: JournalEvent) => onEvent(event) } : {}),
  });
  const run = result.runs[0];
  expect(run?.error).toBeUndefined();
  return { run: run as SuiteRun, events: readJournal(run?.journalPath ?? "") };
}

/** Errors of the run's requests in each phase, and in the second its first fault was applied. */
function errorsOf(events: JournalEvent[]) {
  const buckets = metricsBuckets(events);
  const phases = phaseIntervals(events, (buckets[buckets.length - 1]?.second ?? 0) + 1);
  const of = (phase: string) => {
    const interval = phases.find((p) => p.phase === phase);
    return interval ? windowStats(bucketsIn(buckets, interval)) : undefined;
  };
  const applied = events.find((e) => e.type === "fault-applied");
  const second = applied?.type === "fault-applied" ? applied.second : -1;
  const atStart = windowStats(buckets.filter((b) => b.second === second || b.second === second + 1));
  return { of, atStart };
}

describe("link faults on an attached Docker Compose PoP", () => {
  beforeAll(async () => {
    await pop.up();
    decoy = await startDecoy(pop);
    console.log(`${TAG} compose project ${pop.project} up on port ${pop.port}`);
  });

  afterAll(async () => {
    if (decoy.id)
      await rawClient()
        .getContainer(decoy.id)
        .remove({ force: true })
        .catch(() => {});
    await pop.removeFaultlineContainers();
    pop.down();
  });

  it("a 200 ms latency on edge-1 adds 200 ms to the requests edge-1 answers, and to no others", async () => {
    const before = await pop.snapshot();
    const baseline = await timeByEdge(30);
    let measured: Promise<Map<string, number[]>> | undefined;
    let helper: { labels: Record<string, string>; bindings: unknown } | undefined;
    const { run, events } = await runExperiment(
      "  - { fault: latency, target: edge-1, latency: 200ms, for: 12s }",
      (event) => {
        if (event.type !== "fault-applied") return;
        measured = (async () => {
          const info = await rawClient().getContainer(attachToxiproxyName(pop.project)).inspect();
          helper = { labels: info.Config.Labels, bindings: info.HostConfig.PortBindings };
          await sleep(500);
          return timeByEdge(60);
        })();
      },
    );
    const during = await (measured ?? Promise.reject(new Error("the fault was never applied")));
    const after = await timeByEdge(30);
    const others = (m: Map<string, number[]>) =>
      median([...(m.get("edge-2") ?? []), ...(m.get("edge-3") ?? [])]);
    const added = median(during.get("edge-1") ?? []) - others(during);
    const applied = events.find((e) => e.type === "fault-applied");
    const details = applied?.type === "fault-applied" ? applied.details : undefined;
    const { of, atStart } = errorsOf(events);
    const vegeta = (phase: "baseline" | "inject") => {
      const buckets = metricsBuckets(events);
      const phases = phaseIntervals(events, (buckets[buckets.length - 1]?.second ?? 0) + 1);
      const interval = phases.find((p) => p.phase === phase);
      return interval ? windowStats(bucketsIn(buckets, interval), "edge-1").latency?.p50 : undefined;
    };
    console.log(
      `${TAG} latency 200ms on lb -> edge-1: requests answered by edge-1 took ${ms(median(baseline.get("edge-1") ?? []))} before, ${ms(median(during.get("edge-1") ?? []))} during (n=${during.get("edge-1")?.length}), ${ms(median(after.get("edge-1") ?? []))} after; edge-2/3 ${ms(others(during))} during: added ${ms(added)}. The run's load (vegeta) to edge-1: p50 ${ms(vegeta("baseline"))} baseline, ${ms(vegeta("inject"))} inject`,
    );
    console.log(
      `${TAG} at fault start: ${details?.closedConnections} established connection(s) of the lb to edge-1 closed; errors in the two seconds from the apply ${atStart.errors}/${atStart.count}, in the inject phase ${of("inject")?.errors}/${of("inject")?.count} (${pct(of("inject")?.errorRate)}); link ${details?.link}; verdict ${run.evaluation?.verdict}`,
    );
    expect(Math.abs(added - 200)).toBeLessThanOrEqual(20);
    expect(others(during)).toBeLessThan(20);
    expect(median(after.get("edge-1") ?? [])).toBeLessThan(20);
    expect(details?.link).toBe("lb -> edge-1");
    expect(helper?.labels["faultline.replica"]).toBe(pop.project);
    expect(JSON.stringify(helper?.bindings)).toMatch(/"HostIp":"127\.0\.0\.1"/);
    await pop.expectUntouched(before, "after the latency run", TAG);
  });

  it("a reset on edge-2 takes it out of the stack's HAProxy within its check settings, and it comes back", async () => {
    const before = await pop.snapshot();
    const { run, events } = await runExperiment("  - { fault: reset, target: edge-2, for: 8s }");
    const detectMs = run.evaluation?.timings.detection[0]?.detectMs ?? null;
    const buckets = metricsBuckets(events);
    const phases = phaseIntervals(events, (buckets[buckets.length - 1]?.second ?? 0) + 1);
    const share = (phase: string) => {
      const interval = phases.find((p) => p.phase === phase);
      const all = interval ? windowStats(bucketsIn(buckets, interval)) : undefined;
      const mine = interval ? windowStats(bucketsIn(buckets, interval), "edge-2") : undefined;
      return {
        share: all?.count ? (mine?.count ?? 0) / all.count : 0,
        errors: all?.errors ?? 0,
        count: all?.count ?? 0,
      };
    };
    // The example's HAProxy: inter 500ms, fall 3; a reset check fails at once.
    const budget = 500 * 3 + 1000;
    console.log(
      `${TAG} reset on lb -> edge-2: HAProxy marked it down after ${detectMs} ms (budget ${budget} ms); edge-2's share of requests baseline ${pct(share("baseline").share)}, inject ${pct(share("inject").share)}, verify ${pct(share("verify").share)}; inject errors ${share("inject").errors}/${share("inject").count}; verdict ${run.evaluation?.verdict}`,
    );
    expect(detectMs).not.toBeNull();
    expect(detectMs ?? Number.POSITIVE_INFINITY).toBeLessThan(budget);
    expect(share("baseline").share).toBeGreaterThan(0.2);
    await pop.edgesUp();
    await pop.expectUntouched(before, "after the reset run", TAG);
  });

  it("after a SIGKILL mid-fault, `faultline recover` removes the redirects and Faultline's Toxiproxy", async () => {
    const before = await pop.snapshot();
    const file = writeExperiment(
      attachYaml(
        [
          "  - { fault: latency, target: edge-1, latency: 300ms, for: 40s }",
          "  - { fault: timeout, target: origin, for: 40s }",
        ].join("\n"),
      ),
    );
    const cli = startCli(
      ["run", file, "--runs-dir", tempDir("faultline-runs-"), "--no-history", "--progress", "plain"],
      { FAULTLINE_WATCHDOG: "0" },
    );
    await waitForOutput(cli, "applied  f2", 90_000);
    const held = await pop.faultlineContainers();
    const sample = await timeByEdge(12);
    const slow = median(sample.get("edge-1") ?? []);
    cli.child.kill("SIGKILL");
    await cli.result;
    const started = Date.now();
    const recovered = await runCli(["recover", "--replica", pop.project]);
    console.log(
      `${TAG} SIGKILL with ${held.map((c) => c.role).join(", ")} held (edge-1 answering in ${ms(slow)}, ${sample.get("timed out")?.length ?? 0}/12 waiting on the origin); recover exit ${recovered.code} in ${Date.now() - started} ms:\n${recovered.stdout.trim()}`,
    );
    expect(held.filter((c) => c.role === "netfilter")).toHaveLength(4);
    expect(held.filter((c) => c.role === "attach-toxiproxy")).toHaveLength(1);
    expect(slow).toBeGreaterThan(290);
    expect(recovered.code).toBe(0);
    await pop.edgesUp();
    expect(median((await timeByEdge(12)).get("edge-1") ?? [])).toBeLessThan(20);
    await pop.expectUntouched(before, "after SIGKILL and recover", TAG);
  });

  it("after a SIGKILL mid-fault, the dead-man's switch alone removes them", async () => {
    const before = await pop.snapshot();
    const file = writeExperiment(
      attachYaml(
        [
          "  - { fault: latency, target: edge-3, latency: 300ms, for: 40s }",
          "  - { fault: bandwidth, target: origin, rate: 10KB/s, for: 40s }",
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
    expect((await pop.faultlineContainers()).length).toBe(5);
    cli.child.kill("SIGKILL");
    await cli.result;
    const killed = Date.now();
    await waitUntil(
      async () => {
        const left = await pop.faultlineContainers();
        return left.length === 0
          ? { done: true, value: undefined }
          : { done: false, reason: left.map((c) => c.name).join(", ") };
      },
      { description: "the watchdog to revert the link faults", timeoutMs: 30_000, intervalMs: 100 },
    );
    console.log(
      `${TAG} the watchdog removed 4 redirect sidecars and Faultline's Toxiproxy ${Date.now() - killed} ms after the SIGKILL`,
    );
    await pop.edgesUp();
    await pop.expectUntouched(before, "after SIGKILL and the watchdog", TAG);
  });

  it("`faultline inject` holds a latency on the edges' link into the origin, then leaves nothing", async () => {
    const before = await pop.snapshot();
    const cli = startCli([
      "inject",
      "latency",
      "--target",
      "origin",
      "--for",
      "4s",
      "--set",
      "latency=300ms",
      "--replica",
      pop.project,
    ]);
    await waitForOutput(cli, "applied", 60_000);
    const held = await pop.faultlineContainers();
    const done = await cli.result;
    console.log(
      `${TAG} inject latency on the origin: ${held.filter((c) => c.role === "netfilter").length} redirect sidecars (one per edge) and ${held.filter((c) => c.role === "attach-toxiproxy").length} Toxiproxy held; exit ${done.code}: ${done.stderr.trim().split("\n")[0]}`,
    );
    expect(done.code).toBe(0);
    expect(held.map((c) => c.role).sort()).toEqual([
      "attach-toxiproxy",
      "netfilter",
      "netfilter",
      "netfilter",
    ]);
    await pop.expectUntouched(before, "after inject", TAG);
  });

  it("Faultline's Toxiproxy for the stack exits at its deadline by itself; `recover` sweeps one without a ledger", async () => {
    const settings = attachSchema.parse({
      compose: pop.project,
      entry: pop.entry,
      roles: { lb: ["lb"], edge: ["edge-1", "edge-2", "edge-3"], origin: ["origin"] },
    });
    const { replica } = await attachStack(settings);
    const gone = (description: string) =>
      waitUntil(
        async () =>
          (await pop.faultlineContainers()).length === 0
            ? { done: true, value: undefined }
            : { done: false, reason: "still there" },
        { description, timeoutMs: 15_000, intervalMs: 100 },
      );
    // A fault whose planned end was 7 s ago: the grace (10 s) leaves it about 3 s.
    const started = Date.now();
    const host = await ensureAttachToxiproxy(replica.topology, Date.now() - 7_000);
    await gone("the Toxiproxy to expire");
    console.log(
      `${TAG} Faultline's Toxiproxy (API ${host.api}) with a 3 s deadline was gone ${Date.now() - started} ms after it was started`,
    );
    await ensureAttachToxiproxy(replica.topology, Date.now() + 60_000);
    const recovered = await runCli(["recover", "--replica", pop.project]);
    console.log(
      `${TAG} recover of a Toxiproxy no ledger names: exit ${recovered.code}: ${recovered.stdout.trim()}`,
    );
    expect(recovered.code).toBe(0);
    expect(recovered.stdout).toMatch(/removed Faultline's Toxiproxy/);
    expect(await pop.faultlineContainers()).toEqual([]);
  });

  it("a container outside the project was never touched", async () => {
    const info = await rawClient().getContainer(decoy.id).inspect();
    expect(JSON.stringify(info.State)).toBe(decoy.state);
    expect(await rulesIn(decoy.id)).not.toMatch(/FL[0-9a-f]/);
  });
});
