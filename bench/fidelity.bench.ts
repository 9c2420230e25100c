import { performance } from "node:perf_hooks";
import { afterAll, beforeAll, expect, it } from "vitest";
import { faultSchema } from "../src/experiments/schema.js";
import { kindOf } from "../src/faults/registry.js";
import { rawClient } from "../src/replica/engine.js";
import { execIn } from "../src/replica/exec.js";
import { type Replica, replicaDown, replicaUp } from "../src/replica/replica.js";
import { containerName, imageFor } from "../src/replica/topology.js";
import { ms, record, summarize } from "./support.js";

// Fidelity: what was asked against what the traffic got.
// - Latency on the origin link: the median latency of uncached requests with the toxic, minus
//   the median without it.
// - Packet loss into edge-1: packets the loss rule dropped (its iptables counter) over packets
//   edge-1's interface received meanwhile (/proc/net/dev), under steady load.
// Target: within 5% of the request. Loss is random per packet, so the measured share comes
// with its 95% interval: how close it can be told to be depends on how many packets were seen.

const NAME = "bench-fidelity";
let replica: Replica;

beforeAll(async () => {
  replica = (await replicaUp({ replica: NAME })).replica;
});
afterAll(async () => {
  await replicaDown(NAME);
});

async function medianLatency(url: string, requests: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < requests; i++) {
    const started = performance.now();
    const response = await fetch(`${url}/api/fidelity-${i}`);
    await response.arrayBuffer();
    times.push(performance.now() - started);
  }
  return summarize(times).median;
}

it("requested vs measured latency", async () => {
  const rows: Record<string, unknown>[] = [];
  for (const requested of [50, 100, 200, 400]) {
    const base = await medianLatency(replica.endpoints.lb, 100);
    const fault = faultSchema.parse({
      fault: "latency",
      target: "origin",
      latency: `${requested}ms`,
      for: "60s",
    });
    const applied = await kindOf(fault).apply(fault, {
      replica,
      runId: "bench-fidelity",
      faultId: `l${requested}`,
      service: "origin",
      revertBy: Date.now() + 120_000,
    });
    let withToxic = 0;
    try {
      withToxic = await medianLatency(replica.endpoints.lb, requested >= 200 ? 40 : 100);
    } finally {
      await applied.revert();
    }
    const added = withToxic - base;
    rows.push({
      requestedMs: requested,
      baselineMedianMs: ms(base),
      withToxicMedianMs: ms(withToxic),
      addedMs: ms(added),
      errorPercent: ms(((added - requested) / requested) * 100),
    });
  }
  expect(rows).toHaveLength(4);
  record("fidelity-latency", { rows, targetErrorPercent: 5 });
});

/** Packets edge-1's interface has received (all of its traffic comes from the replica network). */
async function rxPackets(): Promise<number> {
  const result = await execIn(containerName(replica.topology, "edge-1"), ["cat", "/proc/net/dev"]);
  const line = result.output.split("\n").find((l) => l.trim().startsWith("eth0:"));
  const fields = line?.split(":")[1]?.trim().split(/\s+/) ?? [];
  return Number(fields[1]);
}

/** Packets dropped by Faultline's loss rules in edge-1's namespace (their iptables counters). */
async function droppedPackets(): Promise<number> {
  const edge = await rawClient().getContainer(containerName(replica.topology, "edge-1")).inspect();
  const container = await rawClient().createContainer({
    Image: imageFor("netfilter"),
    Entrypoint: ["sh", "-c", "iptables -w -L -v -x -n"],
    HostConfig: { NetworkMode: `container:${edge.Id}`, CapAdd: ["NET_ADMIN"] },
    Labels: { "faultline.replica": NAME, "faultline.role": "bench" },
  });
  try {
    await container.start();
    await container.wait();
    const logs = (await container.logs({ stdout: true, stderr: true })).toString("utf8");
    return logs
      .split("\n")
      .filter((l) => /statistic mode random/.test(l) && /DROP/.test(l))
      .reduce((n, l) => n + Number(l.replace(/^[^\d]*/, "").split(/\s+/)[0] ?? 0), 0);
  } finally {
    await container.remove({ force: true });
  }
}

it("requested vs measured packet loss", async () => {
  const rows: Record<string, unknown>[] = [];
  for (const requested of [0.05, 0.1, 0.2]) {
    const fault = faultSchema.parse({
      fault: "packet-loss",
      target: "edge-1",
      loss: `${requested * 100}%`,
      direction: "ingress",
      for: "60s",
    });
    const applied = await kindOf(fault).apply(fault, {
      replica,
      runId: "bench-fidelity",
      faultId: `p${requested * 100}`,
      service: "edge-1",
      revertBy: Date.now() + 120_000,
    });
    let dropped = 0;
    let received = 0;
    try {
      const rx0 = await rxPackets();
      // Steady traffic: cacheable requests spread by HAProxy over the three edges.
      const until = Date.now() + 20_000;
      const inflight: Promise<unknown>[] = [];
      while (Date.now() < until) {
        inflight.push(
          fetch(`${replica.endpoints.lb}/`, { signal: AbortSignal.timeout(3000) })
            .then((r) => r.arrayBuffer())
            .catch(() => undefined),
        );
        await new Promise((resolve) => setTimeout(resolve, 4));
      }
      await Promise.all(inflight);
      received = (await rxPackets()) - rx0;
      dropped = await droppedPackets();
    } finally {
      await applied.revert();
    }
    const measured = dropped / received;
    // A drop is a coin flip per packet: the 95% interval of the measured share (normal approximation).
    const halfWidth = 1.96 * Math.sqrt((measured * (1 - measured)) / received);
    rows.push({
      requestedPercent: requested * 100,
      packetsReceived: received,
      packetsDropped: dropped,
      measuredPercent: ms(measured * 100),
      errorPercent: ms(((measured - requested) / requested) * 100),
      interval95Percent: [ms((measured - halfWidth) * 100), ms((measured + halfWidth) * 100)],
      requestedWithinInterval: Math.abs(measured - requested) <= halfWidth,
    });
  }
  expect(rows).toHaveLength(3);
  record("fidelity-loss", { rows, targetErrorPercent: 5 });
});
