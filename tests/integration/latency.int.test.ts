import { describe, expect, it } from "vitest";
import { experimentSchema } from "../../src/experiments/schema.js";
import { parseYamlWithSchema } from "../../src/format/located-yaml.js";
import { ToxiproxyApi } from "../../src/injectors/toxiproxy.js";
import { readJournal } from "../../src/journal/journal.js";
import { runExperiment } from "../../src/run/runner.js";
import { windowStats } from "../../src/steady-state/metrics.js";
import { VegetaDriver } from "../../src/steady-state/vegeta.js";
import { bucketsIn, metricsBuckets, phaseIntervals } from "../../src/verdict/evaluation.js";
import { useReplica } from "../support/replica.js";
import { tempDir } from "../support/temp.js";

const REQUESTED_MS = 150;

const experimentYaml = `version: 1
name: it-latency
load: { rate: 60/s, warmup: 2s, timeout: 2s }
steadyState:
  window: 3s
  baseline: 6s
  recover: 3s
  verify: 6s
  checks:
    - metric: latency.p99
      below: 1s
method:
  - fault: latency
    target: edge-1
    latency: ${REQUESTED_MS}ms
    for: 12s
`;

describe("latency fault on the real replica", () => {
  const replica = useReplica("it-latency");

  it("adds the requested latency to traffic through the affected link, and only while applied", async () => {
    const loaded = {
      file: "it-latency.yaml",
      experiment: parseYamlWithSchema("it-latency.yaml", experimentYaml, experimentSchema),
    };
    const result = await runExperiment({
      loaded,
      replica: replica(),
      runsDir: tempDir("faultline-runs-"),
    });
    const events = readJournal(result.journalPath);
    const buckets = metricsBuckets(events);
    const last = (buckets[buckets.length - 1]?.second ?? 0) + 1;
    const phases = Object.fromEntries(phaseIntervals(events, last).map((p) => [p.phase, p]));
    const p50 = (phase: string, edge: string) => {
      const interval = phases[phase];
      if (!interval) throw new Error(`no ${phase} phase in the journal`);
      const stats = windowStats(bucketsIn(buckets, interval), edge);
      expect(stats.count, `${edge} served requests during ${phase}`).toBeGreaterThan(20);
      return stats.latency?.p50 ?? Number.NaN;
    };

    const before = p50("baseline", "edge-1");
    const during = p50("inject", "edge-1");
    const after = p50("verify", "edge-1");
    const otherBefore = p50("baseline", "edge-2");
    const otherDuring = p50("inject", "edge-2");
    const added = during - before;
    console.log(
      `[latency] edge-1 p50: before ${before.toFixed(1)} ms, during ${during.toFixed(1)} ms (+${added.toFixed(1)} ms for ${REQUESTED_MS} ms requested, ${((added / REQUESTED_MS - 1) * 100).toFixed(1)}%), after ${after.toFixed(1)} ms; edge-2 p50 ${otherBefore.toFixed(1)} -> ${otherDuring.toFixed(1)} ms; verdict ${result.evaluation.verdict}`,
    );

    expect(added).toBeGreaterThanOrEqual(REQUESTED_MS * 0.85);
    expect(added).toBeLessThanOrEqual(REQUESTED_MS * 1.15);
    expect(Math.abs(after - before)).toBeLessThan(REQUESTED_MS * 0.15);
    expect(Math.abs(otherDuring - otherBefore)).toBeLessThan(REQUESTED_MS * 0.15);

    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining(["fault-intent", "fault-applied", "fault-reverted", "verdict"]),
    );
    expect(await new ToxiproxyApi(replica().endpoints.toxiproxy).faultlineToxics()).toEqual([]);
    expect(result.evaluation.verdict).toBe("passed");
  });

  it("in new-connection mode opens a connection per request at the load balancer; keep-alive reuses them", async () => {
    const connections = async () => {
      const csv = await (await fetch(`${replica().endpoints.lbStats}/stats;csv`)).text();
      const [header, ...rows] = csv.split("\n");
      const columns = (header ?? "").replace(/^# /, "").split(",");
      const row = rows.map((r) => r.split(",")).find((r) => r[0] === "pop" && r[1] === "FRONTEND");
      return Number(row?.[columns.indexOf("conn_tot")] ?? Number.NaN);
    };
    const drive = async (connection: "keep-alive" | "new") => {
      const before = await connections();
      let requests = 0;
      const load = new VegetaDriver().start(
        {
          url: `${replica().endpoints.lb}/`,
          ratePerSecond: 50,
          maxDurationMs: 3000,
          timeoutMs: 2000,
          connection,
        },
        () => requests++,
      );
      await load.finished;
      return { requests, opened: (await connections()) - before };
    };
    const fresh = await drive("new");
    const kept = await drive("keep-alive");
    console.log(
      `[connection mode] new: ${fresh.opened} connections for ${fresh.requests} requests (${((fresh.opened / fresh.requests) * 100).toFixed(1)}%); keep-alive: ${kept.opened} for ${kept.requests}`,
    );
    expect(fresh.opened / fresh.requests).toBeGreaterThan(0.95);
    expect(fresh.opened / fresh.requests).toBeLessThan(1.1);
    expect(kept.opened).toBeLessThan(kept.requests / 5);
  });
});
