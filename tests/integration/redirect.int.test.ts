import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { startRedirect } from "../../src/injectors/redirect.js";
import { ToxiproxyApi } from "../../src/injectors/toxiproxy.js";
import { findLeftovers, recoverReplica } from "../../src/recovery/recover.js";
import { engine } from "../../src/replica/engine.js";
import { containerName } from "../../src/replica/topology.js";
import { useReplica } from "../support/replica.js";

// The transparent redirect (src/injectors/redirect.ts) on real components: the load balancer's
// connections to edge-1's address are sent, by a nat rule in the load balancer's own network
// namespace, through a new Toxiproxy proxy, without touching HAProxy's config or restarting it.
// HAProxy opens a new connection for every health check, so the check's duration in its own
// stats shows what a toxic on the redirected link does to new connections.

const NAME = "it-redirect";
const replica = useReplica(NAME, 2);

/** HAProxy's last health-check duration (ms) for each edge, from its stats CSV. */
async function checkDurations(): Promise<Map<string, number>> {
  const csv = await (await fetch(`${replica().endpoints.lbStats}/stats;csv;norefresh`)).text();
  const [header, ...rows] = csv.split("\n");
  const columns = (header ?? "").replace(/^# /, "").split(",");
  const at = (name: string) => columns.indexOf(name);
  const durations = new Map<string, number>();
  for (const row of rows.map((r) => r.split(","))) {
    if (row[at("pxname")] === "edges" && row[at("svname")]?.startsWith("edge"))
      durations.set(row[at("svname")] ?? "", Number(row[at("check_duration")]));
  }
  return durations;
}

/** The highest check duration of each edge over a few check intervals. */
async function worstChecks(seconds: number): Promise<{ edge1: number; edge2: number }> {
  let edge1 = 0;
  let edge2 = 0;
  for (let i = 0; i < seconds * 4; i++) {
    const d = await checkDurations();
    edge1 = Math.max(edge1, d.get("edge-1") ?? 0);
    edge2 = Math.max(edge2, d.get("edge-2") ?? 0);
    await sleep(250);
  }
  return { edge1, edge2 };
}

async function edge1Address(): Promise<{ ip: string; port: number }> {
  const info = await engine().inspectContainer(containerName(replica().topology, "toxiproxy"));
  const ip = info.NetworkSettings.Networks[replica().topology.network]?.IPAddress ?? "";
  const link = replica().topology.links.find((l) => l.name === "edge-1");
  return { ip, port: link?.listenPort ?? 0 };
}

describe("a transparent redirect through Toxiproxy", () => {
  it("slows the new connections of one link by the toxic's latency, and is gone when stopped", async () => {
    const api = new ToxiproxyApi(replica().endpoints.toxiproxy);
    const lbId = (await engine().inspectContainer(containerName(replica().topology, "lb"))).Id;
    const before = await worstChecks(3);
    const ids = { runId: `redirect-${Date.now()}`, faultId: "f1" };
    const redirect = await startRedirect(
      replica(),
      { clients: ["lb"], to: await edge1Address() },
      ids,
      Date.now() + 60_000,
    );
    try {
      await api.addToxic(redirect.proxy, {
        name: `faultline.${ids.runId}.f1.downstream`,
        type: "latency",
        stream: "downstream",
        toxicity: 1,
        attributes: { latency: 300, jitter: 0 },
      });
      await sleep(1500);
      const during = await worstChecks(3);
      console.log(
        `[redirect] HAProxy's health checks of edge-1: ${before.edge1} ms before, ${during.edge1} ms with 300 ms on the redirected link (edge-2: ${before.edge2} -> ${during.edge2} ms); via ${redirect.via}`,
      );
      expect(during.edge1).toBeGreaterThanOrEqual(300);
      expect(during.edge1).toBeLessThan(330 + before.edge1);
      expect(during.edge2).toBeLessThan(100);
    } finally {
      await redirect.stop();
    }
    await sleep(1500);
    const after = await worstChecks(2);
    console.log(`[redirect] after the redirect stopped: edge-1 checks ${after.edge1} ms`);
    expect(after.edge1).toBeLessThan(100);
    expect(await findLeftovers(replica())).toEqual([]);
    // The load balancer was neither restarted nor recreated.
    const lb = await engine().inspectContainer(containerName(replica().topology, "lb"));
    expect(lb.Id).toBe(lbId);
    expect(lb.State.Running && !lb.State.Paused).toBe(true);
  });

  it("left behind by a crash, its proxy and its rule are found and swept by recover", async () => {
    const ids = { runId: `redirect-crash-${Date.now()}`, faultId: "f1" };
    await startRedirect(replica(), { clients: ["lb"], to: await edge1Address() }, ids, Date.now() + 60_000);
    const found = await findLeftovers(replica());
    const { recovered, errors } = await recoverReplica(replica());
    console.log(`[redirect] found: ${found.join("; ")}; recover: ${recovered.map((r) => r.what).join("; ")}`);
    expect(found.some((f) => f.startsWith("redirect proxy"))).toBe(true);
    expect(found.some((f) => f.startsWith("netfilter sidecar"))).toBe(true);
    expect(errors).toEqual([]);
    expect(await findLeftovers(replica())).toEqual([]);
  });
});
