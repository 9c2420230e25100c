import { describe, expect, it } from "vitest";
import { findLeftovers } from "../../src/recovery/recover.js";
import { rawClient } from "../../src/replica/engine.js";
import { containerName } from "../../src/replica/topology.js";
import { ms, pct, runShort } from "../support/experiment.js";
import { wilson } from "../support/prober.js";
import { useReplica } from "../support/replica.js";

const NAME = "it-pressure";

interface Usage {
  cores: number;
  memoryMB: number;
}

/** CPU (cores busy) and memory of a container over about one second, from the Docker API. */
async function usage(container: string): Promise<Usage> {
  const c = rawClient().getContainer(container);
  const first = await c.stats({ stream: false });
  const startedAt = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, 1000));
  const second = await c.stats({ stream: false });
  const elapsedNs = Number(process.hrtime.bigint() - startedAt);
  const cpuNs = second.cpu_stats.cpu_usage.total_usage - first.cpu_stats.cpu_usage.total_usage;
  return { cores: cpuNs / elapsedNs, memoryMB: (second.memory_stats.usage ?? 0) / 1_000_000 };
}

describe("pressure faults on the real replica", () => {
  const replica = useReplica(NAME);

  it("stress burns CPU and holds memory inside the target, and stops when reverted", async () => {
    const container = containerName(replica().topology, "edge-2");
    const before = await usage(container);
    let peak: Usage = { cores: 0, memoryMB: 0 };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const u = await usage(container);
        peak = { cores: Math.max(peak.cores, u.cores), memoryMB: Math.max(peak.memoryMB, u.memoryMB) };
      }
    })();
    const run = await runShort(
      replica(),
      "  - { fault: stress, target: edge-2, cpu: 1, memory: 200MB, for: 8s }",
    );
    sampling = false;
    await sampler;
    const after = await usage(container);
    console.log(
      `[stress] edge-2: ${before.cores.toFixed(2)} cores / ${before.memoryMB.toFixed(0)} MB before, peak ${peak.cores.toFixed(2)} cores / ${peak.memoryMB.toFixed(0)} MB under cpu 1 + 200MB, ${after.cores.toFixed(2)} cores / ${after.memoryMB.toFixed(0)} MB after; p99 under stress ${ms(run.stats("inject").latency?.p99)}`,
    );
    expect(peak.cores).toBeGreaterThan(0.8);
    // Within 15% of the 200 MB requested.
    expect(peak.memoryMB - before.memoryMB).toBeGreaterThan(170);
    expect(peak.memoryMB - before.memoryMB).toBeLessThan(230);
    expect(after.cores).toBeLessThan(0.3);
    expect(await findLeftovers(replica())).toEqual([]);
  });

  it("origin brownout: the requested share of uncacheable requests fails, and the origin heals", async () => {
    const requested = 0.3;
    const run = await runShort(
      replica(),
      `  - { fault: origin-brownout, errors: ${requested * 100}%, status: 503, for: 8s }`,
      {
        rate: "50/s",
        path: "/api/items",
      },
    );
    const inject = run.stats("inject");
    const [lo95, hi95] = wilson(inject.errors, inject.count, 1.96);
    const [lo999, hi999] = wilson(inject.errors, inject.count, 3.29);
    console.log(
      `[brownout] ${pct(requested)} requested: ${inject.errors}/${inject.count} requests failed = ${pct(inject.errorRate)}, 95% interval [${pct(lo95)}, ${pct(hi95)}]; baseline ${pct(run.stats("baseline").errorRate)}, verify ${pct(run.stats("verify").errorRate)}`,
    );
    expect(requested).toBeGreaterThanOrEqual(lo999);
    expect(requested).toBeLessThanOrEqual(hi999);
    expect(run.stats("verify").errorRate).toBe(0);
    expect(await findLeftovers(replica())).toEqual([]);
  });

  it("origin brownout, slow: origin connections answer late by the requested delay", async () => {
    // `slow` is a share of connections (Toxiproxy rolls toxicity per connection), and the
    // edges keep only a few keep-alive connections to the origin: at 50% a run may slow none.
    // 100% makes the figure deterministic.
    const run = await runShort(
      replica(),
      "  - { fault: origin-brownout, slow: 100%, delay: 400ms, for: 8s }",
      {
        rate: "50/s",
        path: "/api/items",
      },
    );
    const before = run.stats("baseline").latency;
    const during = run.stats("inject").latency;
    console.log(
      `[brownout slow] p50 ${ms(before?.p50)} -> ${ms(during?.p50)}, p99 ${ms(before?.p99)} -> ${ms(during?.p99)}; verify p99 ${ms(run.stats("verify").latency?.p99)}`,
    );
    expect(during?.p50 ?? 0).toBeGreaterThan(400);
    expect(during?.p99 ?? 0).toBeLessThan(500);
    expect(run.stats("verify").latency?.p99 ?? Number.POSITIVE_INFINITY).toBeLessThan(100);
    expect(await findLeftovers(replica())).toEqual([]);
  });
});
