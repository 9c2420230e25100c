import { performance } from "node:perf_hooks";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Fault, faultSchema } from "../src/experiments/schema.js";
import type { AppliedFault } from "../src/faults/fault-kind.js";
import { kindOf } from "../src/faults/registry.js";
import { rawClient } from "../src/replica/engine.js";
import { type Replica, replicaDown, replicaUp } from "../src/replica/replica.js";
import { containerName } from "../src/replica/topology.js";
import { ms, record, summarize } from "./support.js";

// Time from decision to effect, and to revert, for every fault kind, on a warm replica.
// Toxics (latency, reset, timeout) act on the origin link: a prober sends uncached requests
// (/api/) one after another through the load balancer, and the effect time is when the first
// request sent after the decision showed the fault (its start, so at most one request late).
// Kill, packet loss and partition act on edge-1: their injectors return once the fault is in
// place (container dead, rules installed in the edge's namespace), so the effect time is the
// injector's own time, checked against the container's state.
// Targets: a toxic in effect within 50 ms (median), a kill or a loss rule within 300 ms.

const NAME = "bench-effect";
const TRIALS = 10;
let replica: Replica;

beforeAll(async () => {
  replica = (await replicaUp({ replica: NAME })).replica;
});
afterAll(async () => {
  await replicaDown(NAME);
});

interface Probe {
  startedAt: number;
  latencyMs: number;
  ok: boolean;
}

/** Sends requests one after another until stopped; keeps each one's start, latency and outcome. */
function startProber(url: string): { samples: Probe[]; stop(): Promise<void> } {
  const samples: Probe[] = [];
  let running = true;
  let n = 0;
  const loop = (async () => {
    while (running) {
      const startedAt = performance.now();
      let ok = false;
      try {
        const response = await fetch(`${url}/api/bench-${n++}`, { signal: AbortSignal.timeout(300) });
        await response.arrayBuffer();
        ok = response.status < 500;
      } catch {
        ok = false;
      }
      samples.push({ startedAt, latencyMs: performance.now() - startedAt, ok });
    }
  })();
  return {
    samples,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

const sleep = (msDelay: number) => new Promise((resolve) => setTimeout(resolve, msDelay));

async function apply(fault: Fault, service: string, trial: number): Promise<AppliedFault> {
  return kindOf(fault).apply(fault, {
    replica,
    runId: "bench-effect",
    faultId: `t${trial}`,
    service,
    revertBy: Date.now() + 60_000,
  });
}

it("toxics on the origin link: decision to effect, and to revert, seen by requests", async () => {
  const kinds: { name: string; fault: Fault; affected: (p: Probe) => boolean }[] = [
    {
      name: "latency 200ms",
      fault: faultSchema.parse({ fault: "latency", target: "origin", latency: "200ms", for: "10s" }),
      affected: (p) => p.latencyMs >= 150,
    },
    {
      name: "reset",
      fault: faultSchema.parse({ fault: "reset", target: "origin", for: "10s" }),
      affected: (p) => !p.ok,
    },
    {
      name: "timeout",
      fault: faultSchema.parse({ fault: "timeout", target: "origin", for: "10s" }),
      affected: (p) => !p.ok,
    },
  ];
  const figures: Record<string, unknown> = {};
  for (const kind of kinds) {
    const effect: number[] = [];
    const revert: number[] = [];
    const applyCall: number[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const prober = startProber(replica.endpoints.lb);
      await sleep(300);
      const decided = performance.now();
      const applied = await apply(kind.fault, "origin", trial);
      applyCall.push(performance.now() - decided);
      await sleep(600);
      const reverting = performance.now();
      await applied.revert();
      await sleep(600);
      await prober.stop();
      const first = prober.samples.find((p) => p.startedAt >= decided && kind.affected(p));
      const back = prober.samples.find((p) => p.startedAt >= reverting && !kind.affected(p));
      if (first) effect.push(Math.max(0, first.startedAt - decided));
      if (back) revert.push(Math.max(0, back.startedAt - reverting));
    }
    expect(effect.length).toBeGreaterThan(TRIALS / 2);
    figures[kind.name] = {
      ...effectFigures(effect, revert),
      applyCallMedianMs: ms(summarize(applyCall).median),
    };
  }
  record("fault-effect-toxics", { ...figures, targetMedianMs: 50 });
});

it("kill, packet loss and partition on an edge: decision to effect, and to revert", async () => {
  const kinds: { name: string; fault: Fault }[] = [
    { name: "node-kill", fault: faultSchema.parse({ fault: "node-kill", target: "edge-1", for: "10s" }) },
    {
      name: "packet-loss 10%",
      fault: faultSchema.parse({ fault: "packet-loss", target: "edge-1", loss: "10%", for: "10s" }),
    },
    { name: "partition", fault: faultSchema.parse({ fault: "partition", target: "edge-1", for: "10s" }) },
  ];
  const figures: Record<string, unknown> = {};
  const container = rawClient().getContainer(containerName(replica.topology, "edge-1"));
  for (const kind of kinds) {
    const effect: number[] = [];
    const revert: number[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const decided = performance.now();
      const applied = await apply(kind.fault, "edge-1", trial);
      effect.push(performance.now() - decided);
      if (kind.fault.fault === "node-kill") expect((await container.inspect()).State.Running).toBe(false);
      await sleep(300);
      const reverting = performance.now();
      await applied.revert();
      revert.push(performance.now() - reverting);
      expect((await container.inspect()).State.Running).toBe(true);
      // Let HAProxy see the edge healthy again before the next trial.
      await sleep(kind.fault.fault === "node-kill" ? 4000 : 300);
    }
    figures[kind.name] = effectFigures(effect, revert);
  }
  record("fault-effect-edge", { ...figures, targetMedianMs: 300 });
});

/** Median and p90 of the times to effect and to revert (ms), and how many trials measured. */
function effectFigures(effect: number[], revert: number[]): Record<string, number> {
  const e = summarize(effect);
  const r = summarize(revert);
  return {
    effectMedianMs: ms(e.median),
    effectP90Ms: ms(e.p90),
    revertMedianMs: ms(r.median),
    revertP90Ms: ms(r.p90),
    trials: effect.length,
  };
}
