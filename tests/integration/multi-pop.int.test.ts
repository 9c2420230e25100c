import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { candidatesOf, resolveTarget, seededRandom } from "../../src/experiments/targets.js";
import { readJournal } from "../../src/journal/journal.js";
import { rawClient } from "../../src/replica/engine.js";
import { connectReplica, replicaDown, replicaUp } from "../../src/replica/replica.js";
import { containerName } from "../../src/replica/topology.js";
import { loadTopology } from "../../src/replica/topology-file.js";
import type { SuiteResult } from "../../src/run/suite.js";
import { type MetricsBucket, windowStats } from "../../src/steady-state/metrics.js";
import { metricsBuckets } from "../../src/verdict/evaluation.js";
import { runCli } from "../support/cli.js";
import { leftovers } from "../support/replica.js";
import { tempDir } from "../support/temp.js";

// The multi-PoP replica of topologies/two-pops.yaml: pop-a (primary) and pop-b (backup)
// behind a global HAProxy, a shield before the origin, every link through Toxiproxy. A whole
// PoP is killed under load: the global layer must move the clients to the other PoP within
// the budget its health checks set, and take them back after the revert. Faults on a PoP's
// uplink are measured on the traffic that crosses it.

const NAME = "it-multipop";
const TOPOLOGY = resolve("topologies/two-pops.yaml");

async function runExperiment(dir: string, name: string, yaml: string) {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `version: 1\nname: ${name}\nreplica: ${TOPOLOGY}\n${yaml}`);
  const result = await runCli([
    "run",
    file,
    "--replica",
    NAME,
    "--runs-dir",
    join(dir, "runs"),
    "--no-history",
    "--json",
  ]);
  const suite = JSON.parse(result.stdout) as SuiteResult;
  const run = suite.runs[0];
  if (!run) throw new Error(`no run: ${result.stderr}`);
  return { result, run, buckets: metricsBuckets(readJournal(run.journalPath ?? "")) };
}

describe("a multi-PoP replica", () => {
  beforeAll(async () => {
    const up = await replicaUp({ topology: await loadTopology(TOPOLOGY, NAME) });
    console.log(`[multi-pop] replica up in ${up.tookMs} ms: ${up.replica.topology.services.length} services`);
  });
  afterAll(async () => {
    await replicaDown(NAME);
    expect(await leftovers(NAME)).toEqual({ containers: [], networks: [] });
  });

  it("a whole-PoP kill moves the clients to the backup within the health-check budget, and back after", async () => {
    const dir = tempDir("faultline-multipop-");
    const { result, run } = await runExperiment(
      dir,
      "whole-pop-kill",
      `load: { rate: 50/s, warmup: 2s, timeout: 2s }
steadyState:
  window: 5s
  baseline: 5s
  recover: 15s
  verify: 5s
  checks: [{ metric: errors.rate, below: 100% }]
safety: { minHealthyEdges: 1 }
method:
  - { fault: node-kill, target: { pop: pop-a }, for: 15s }
`,
    );
    const pops = run.evaluation?.timings.pops;
    const failover = pops?.failovers[0];
    // Budget: both edges marked down (fall x (interval + timeout) + interval), then the PoP's
    // health path fails at once and the global layer needs fall x interval + interval.
    const edgeBudget = 2 * (500 + 1000) + 500;
    const globalBudget = 2 * 500 + 500;
    const budget = edgeBudget + globalBudget;
    console.log(
      `[multi-pop] pop-a killed under 50/s: global layer marked it down after ${failover?.detectMs} ms (budget ${budget} ms); traffic moved within ${failover?.movedMs} ms; during the move ${failover?.duringMove.errors} of ${failover?.duringMove.requests} requests failed (p99 ${failover?.duringMove.p99Ms} ms); back in rotation ${failover?.backInRotationMs} ms after the revert, serving again within ${failover?.failBackMs} ms; share ${JSON.stringify(pops?.share)}; exit ${result.code}`,
    );
    expect(result.code === 0 || result.code === 5).toBe(true);
    expect(failover).toMatchObject({ pop: "pop-a", kind: "node-kill" });
    expect(failover?.detectMs).not.toBeNull();
    expect(failover?.detectMs ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(budget + 250);
    expect(failover?.movedMs).not.toBeNull();
    expect(failover?.backInRotationMs).not.toBeNull();
    expect(failover?.failBackMs).not.toBeNull();
    // Before the fault pop-a took every client; after the move pop-b did.
    expect(pops?.share.baseline?.["pop-a"]).toBeGreaterThan(0.99);
    expect(pops?.share.inject?.["pop-b"]).toBeGreaterThan(0.5);
    expect(pops?.share.verify?.["pop-a"]).toBeGreaterThan(0);
  });

  it("faults on a PoP's uplink are seen by the requests that cross it: latency, loss, a partition", async () => {
    const dir = tempDir("faultline-multipop-");
    // /api/ is not cached, so every request crosses pop-a's uplink to the shield.
    const { result, run, buckets } = await runExperiment(
      dir,
      "uplink-faults",
      `load: { rate: 40/s, path: /api/uplink, warmup: 2s, timeout: 2s }
steadyState:
  window: 2s
  baseline: 4s
  recover: 4s
  verify: 2s
  checks: [{ metric: errors.rate, below: 100% }]
method:
  - { fault: latency, target: { pop: pop-a, link: uplink }, latency: 200ms, at: 0s, for: 6s }
  - { fault: packet-loss, target: { pop: pop-a, link: uplink }, loss: 20%, at: 8s, for: 6s }
  - { fault: partition, target: { pop: pop-a, link: uplink }, at: 16s, for: 6s }
`,
    );
    const events = readJournal(run.journalPath ?? "");
    const applied = (id: string) => {
      const e = events.find((x) => x.type === "fault-applied" && x.id === id);
      return e?.type === "fault-applied" ? e.second : Number.NaN;
    };
    const between = (from: number, to: number) =>
      buckets.filter((b: MetricsBucket) => b.second >= from && b.second < to);
    const baselineStart = applied("f1") - 4;
    const base = windowStats(between(baselineStart, applied("f1")));
    // Skip the first second of each fault: requests already in flight when it was applied.
    const latency = windowStats(between(applied("f1") + 1, applied("f1") + 6));
    const loss = windowStats(between(applied("f2") + 1, applied("f2") + 6));
    const cut = windowStats(between(applied("f3") + 1, applied("f3") + 5));
    const added = (latency.latency?.p50 ?? 0) - (base.latency?.p50 ?? 0);
    console.log(
      `[multi-pop] pop-a uplink: baseline p50 ${base.latency?.p50.toFixed(1)} ms; +200ms latency toxic: p50 ${latency.latency?.p50.toFixed(1)} ms (added ${added.toFixed(1)} ms); 20% loss: p99 ${loss.latency?.p99.toFixed(0)} ms, errors ${loss.errors}/${loss.count}; partition: errors ${cut.errors}/${cut.count}; exit ${result.code}`,
    );
    expect(base.errors).toBe(0);
    expect(added).toBeGreaterThan(190);
    expect(added).toBeLessThan(260);
    // Lost packets are retransmitted (200 ms and up): the tail grows far past the baseline.
    expect(loss.latency?.p99 ?? 0).toBeGreaterThan((base.latency?.p99 ?? 0) + 150);
    // A cut uplink: uncached requests cannot reach the shield, so they fail (timeouts or 504).
    expect(cut.errors / cut.count).toBeGreaterThan(0.9);
    // After the revert, the last verify window is clean again.
    const verify = run.evaluation?.phases.find((p) => p.phase === "verify");
    expect(verify?.windows.at(-1)?.results.every((r) => r.ok)).toBe(true);
  });

  it("label targets match the labels `docker inspect` shows on the replica's containers", async () => {
    const { topology } = await connectReplica(NAME);
    for (const candidate of candidatesOf(topology)) {
      const real = await rawClient().getContainer(containerName(topology, candidate.service)).inspect();
      expect(real.Config.Labels).toMatchObject(candidate.labels);
    }
    const selected = resolveTarget(
      {
        kind: "labels",
        labels: { "faultline.pop": "pop-b", "faultline.role": "edge" },
        pick: undefined,
        percent: undefined,
      },
      topology,
      seededRandom(0),
    );
    const real = await rawClient().listContainers({
      filters: { label: [`faultline.replica=${NAME}`, "faultline.pop=pop-b", "faultline.role=edge"] },
    });
    console.log(
      `[multi-pop] { faultline.pop: pop-b, faultline.role: edge } -> ${selected.join(", ")}; Docker's filter: ${real.length} containers`,
    );
    expect(selected.length).toBe(real.length);
    expect(selected.map((s) => containerName(topology, s)).sort()).toEqual(
      real.map((c) => (c.Names[0] ?? "").replace(/^\//, "")).sort(),
    );
  });

  it("bad input: an unknown PoP target and a topology with a duplicate edge are located errors; nothing started", async () => {
    const dir = tempDir("faultline-multipop-");
    const experiment = join(dir, "unknown-pop.yaml");
    writeFileSync(
      experiment,
      `version: 1
name: unknown-pop
replica: ${TOPOLOGY}
load: { rate: 10/s }
steadyState: { checks: [{ metric: errors.rate, below: 1% }] }
method:
  - { fault: node-kill, target: { pop: pop-z }, for: 5s }
`,
    );
    const unknown = await runCli(["run", experiment, "--replica", `${NAME}-never`]);
    const topology = join(dir, "dup.yaml");
    writeFileSync(
      topology,
      `version: 1
name: ${NAME}-dup
pops:
  - { name: pop-a, edges: [one, two] }
  - { name: pop-b, edges: [three, one] }
`,
    );
    const dup = await runCli(["replica", "up", "--topology", topology]);
    console.log(
      `[multi-pop] unknown PoP: ${unknown.stderr.trim()}\n[multi-pop] duplicate edge: ${dup.stderr.trim()}`,
    );
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`${experiment}:7:`);
    expect(unknown.stderr).toContain('method[0].target: replica two-pops has no PoP "pop-z"');
    expect(unknown.stderr).toContain("its PoPs: pop-a, pop-b");
    expect(dup.code).toBe(2);
    expect(dup.stderr).toMatch(/dup\.yaml:5:\d+ pops\[1\]\.edges\[1\]: expected unique names; "one"/);
    expect(unknown.stderr + dup.stderr).not.toMatch(/\n\s+at /);
    expect(await leftovers(`${NAME}-never`)).toEqual({ containers: [], networks: [] });
    expect(await leftovers(`${NAME}-dup`)).toEqual({ containers: [], networks: [] });
  });
});
