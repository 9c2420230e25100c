import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadExperiment } from "../../src/experiments/loader.js";
import { type Fault, faultSchema } from "../../src/experiments/schema.js";
import type { AppliedFault } from "../../src/faults/fault-kind.js";
import { kindOf } from "../../src/faults/registry.js";
import { listRules } from "../../src/injectors/dns.js";
import { readJournal } from "../../src/journal/journal.js";
import { findLeftovers } from "../../src/recovery/recover.js";
import { execIn } from "../../src/replica/exec.js";
import { type Replica, replicaDown, replicaUp } from "../../src/replica/replica.js";
import { containerName } from "../../src/replica/topology.js";
import { loadTopology } from "../../src/replica/topology-file.js";
import { runExperiment } from "../../src/run/runner.js";
import { percentileOf } from "../../src/steady-state/checks.js";
import { sampleDns } from "../../src/steady-state/dns-probe.js";
import { errorRateIn, probeErrors } from "../support/journal.js";
import { leftovers } from "../support/replica.js";
import { tempDir } from "../support/temp.js";

// The built-in PoP with its own DNS (topologies/dns.yaml, TTL 5 s): the edges resolve
// origin.faultline.test through it at request time. Measured on real traffic: how often the
// edges ask, what each DNS fault does to the requests, how soon resolution is normal after a
// revert, a fault scoped to one edge, a rule that ends by itself, and the shipped experiment.

const NAME = "it-dns";
const TTL_MS = 5000;
let replica: Replica | undefined;
const up = () => {
  if (!replica) throw new Error("replica is not up");
  return replica;
};
const dnsContainer = () => containerName(up().topology, "dns");

beforeAll(async () => {
  const topology = await loadTopology(join(import.meta.dirname, "../../topologies/dns.yaml"), NAME);
  const result = await replicaUp({ topology });
  replica = result.replica;
  console.log(`[dns] replica up in ${result.tookMs} ms; DNS on ${replica.endpoints.dns}`);
});

afterAll(async () => {
  await replicaDown(NAME);
  expect(await leftovers(NAME)).toEqual({ containers: [], networks: [] });
});

interface Answer {
  at: number;
  status: number;
  edge: string;
  ms: number;
}

/** Requests at `rate`/s for `ms` through the load balancer: what each one got, and from whom. */
async function traffic(ms: number, path: string, rate = 25): Promise<Answer[]> {
  const started = Date.now();
  const pending: Promise<Answer>[] = [];
  for (let i = 0; Date.now() - started < ms; i += 1) {
    const sent = performance.now();
    pending.push(
      fetch(`${up().endpoints.lb}${path}`, { signal: AbortSignal.timeout(5000) })
        .then(async (r) => {
          await r.arrayBuffer();
          return { status: r.status, edge: r.headers.get("x-edge") ?? "?" };
        })
        .catch(() => ({ status: 0, edge: "?" }))
        .then((r) => ({ ...r, at: Date.now() - started, ms: performance.now() - sent })),
    );
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, started + ((i + 1) * 1000) / rate - Date.now())),
    );
  }
  return Promise.all(pending);
}

const share = (answers: readonly Answer[], ok: (a: Answer) => boolean) =>
  answers.length ? answers.filter(ok).length / answers.length : Number.NaN;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

let sequence = 0;
async function inject(fields: Record<string, unknown>, revertInMs = 60_000): Promise<AppliedFault> {
  sequence += 1;
  const fault: Fault = faultSchema.parse({
    for: "60s",
    name: "origin.faultline.test",
    target: "dns",
    ...fields,
  });
  const service = typeof fields.target === "string" ? fields.target : "dns";
  kindOf(fault).check(fault, service, up().topology);
  return kindOf(fault).apply(fault, {
    replica: up(),
    runId: `it-dns-${Date.now()}`,
    faultId: `f${sequence}`,
    service,
    revertBy: Date.now() + revertInMs,
  });
}

/** How many queries the DNS server has answered so far. */
async function queriesSoFar(): Promise<number> {
  const { output } = await execIn(dnsContainer(), [
    "dnsdist",
    "-c",
    "-e",
    'getStatisticsCounters()["queries"]',
  ]);
  return Number(output.trim());
}

/** After a revert: how long until `path` answers 200 for 10 requests in a row. */
async function backAfterRevert(applied: AppliedFault, path: string): Promise<number> {
  await applied.revert();
  const reverted = Date.now();
  let inARow = 0;
  while (Date.now() - reverted < 20_000) {
    const [answer] = await traffic(40, path, 25);
    inARow = answer?.status === 200 ? inARow + 1 : 0;
    if (inARow === 10) return Date.now() - reverted - 9 * 40;
  }
  return Number.POSITIVE_INFINITY;
}

describe("DNS in the replica", () => {
  it("the edges ask it for the origin about once per TTL each; a dns-ttl fault changes how often", async () => {
    const asked = async (ms: number) => {
      const before = await queriesSoFar();
      const answers = await traffic(ms, "/api/ttl", 20);
      return {
        queries: (await queriesSoFar()) - before,
        requests: answers.length,
        ok: share(answers, (a) => a.status === 200),
      };
    };
    await traffic(1000, "/api/warm", 20);
    const zone = await asked(10_000);
    const short = await inject({ fault: "dns-ttl", ttl: "1s" });
    await asked(1500);
    const shortTtl = await asked(10_000);
    await short.revert();
    const long = await inject({ fault: "dns-ttl", ttl: "1h" });
    await new Promise((resolve) => setTimeout(resolve, TTL_MS + 500));
    await asked(1500);
    const longTtl = await asked(10_000);
    // The revert reloads the edges' nginx: the hour-long answer is forgotten, they ask again.
    await long.revert();
    const afterRevert = await asked(3000);
    console.log(
      `[dns] lookups by 3 edges in 10 s of traffic at 20/s: ${zone.queries} with the zone's TTL of 5s, ${shortTtl.queries} with dns-ttl 1s, ${longTtl.queries} with dns-ttl 1h; ${afterRevert.queries} in the 3 s after its revert`,
    );
    for (const m of [zone, shortTtl, longTtl]) expect(m.ok).toBe(1);
    // Three edges, a lookup each at most every 5 s, never one per request.
    expect(zone.queries).toBeGreaterThanOrEqual(3);
    expect(zone.queries).toBeLessThanOrEqual(12);
    expect(shortTtl.queries).toBeGreaterThanOrEqual(zone.queries * 2);
    // An answer kept for an hour: no lookup at all once each edge has one.
    expect(longTtl.queries).toBe(0);
    expect(afterRevert.queries).toBeGreaterThanOrEqual(3);
  });

  it("NXDOMAIN for the origin: the edges fail once the answer and the cached page are stale (no stale served)", async () => {
    await traffic(2000, "/", 25);
    const applied = await inject({ fault: "dns-nxdomain" });
    const answers = await traffic(TTL_MS + 5000, "/", 25);
    const firstFailure = answers.find((a) => a.status !== 200)?.at ?? Number.NaN;
    const late = answers.filter((a) => a.at > TTL_MS + 2500);
    const back = await backAfterRevert(applied, "/");
    console.log(
      `[dns] NXDOMAIN: first failure ${firstFailure} ms after the fault; after TTL + max-age ${pct(share(late, (a) => a.status === 502))} answered 502, ${pct(share(late, (a) => a.status === 200))} served (stale); resolution normal ${back} ms after the revert`,
    );
    expect(firstFailure).toBeLessThanOrEqual(TTL_MS + 2500);
    expect(share(late, (a) => a.status === 502)).toBeGreaterThan(0.95);
    expect(back).toBeLessThanOrEqual(TTL_MS + 1000);
    expect(await listRules(dnsContainer())).toEqual([]);
  });

  it("scoped to one edge, only that edge's lookups fail", async () => {
    const applied = await inject({ fault: "dns-servfail", target: "edge-1" });
    await new Promise((resolve) => setTimeout(resolve, TTL_MS + 500));
    const answers = await traffic(3000, "/api/scoped", 30);
    await applied.revert();
    const byEdge = (edge: string) => answers.filter((a) => a.edge === edge);
    const failed = (edge: string) => share(byEdge(edge), (a) => a.status !== 200);
    console.log(
      `[dns] SERVFAIL for edge-1 only: edge-1 ${pct(failed("edge-1"))} failed of ${byEdge("edge-1").length}, edge-2 ${pct(failed("edge-2"))}, edge-3 ${pct(failed("edge-3"))}`,
    );
    expect(failed("edge-1")).toBe(1);
    expect(failed("edge-2")).toBe(0);
    expect(failed("edge-3")).toBe(0);
  });

  it("each DNS fault on real requests, and resolution normal within a TTL of its revert", async () => {
    const cases: [string, Record<string, unknown>][] = [
      ["dns-timeout", {}],
      ["dns-wrong-answer", {}],
      ["dns-delay", { delay: "400ms" }],
    ];
    for (const [kind, fields] of cases) {
      const applied = await inject({ fault: kind, ...fields });
      await new Promise((resolve) => setTimeout(resolve, TTL_MS + 500));
      const answers = await traffic(3000, "/api/kinds", 20);
      const times = answers.map((a) => a.ms);
      const back = await backAfterRevert(applied, "/api/kinds");
      console.log(
        `[dns] ${kind}: ${pct(share(answers, (a) => a.status !== 200))} failed of ${answers.length}; p50 ${percentileOf(times, 50)?.toFixed(0)} ms, max ${Math.max(...times).toFixed(0)} ms; normal ${back} ms after the revert`,
      );
      if (kind === "dns-delay") {
        expect(share(answers, (a) => a.status === 200)).toBe(1);
        // The edges wait for each answer they need: one request per edge per TTL pays the delay.
        expect(Math.max(...times)).toBeGreaterThanOrEqual(400);
      } else {
        expect(share(answers, (a) => a.status !== 200)).toBeGreaterThan(0.9);
      }
      if (kind === "dns-timeout") expect(percentileOf(times, 50)).toBeGreaterThanOrEqual(1900);
      expect(back).toBeLessThanOrEqual(TTL_MS + 1000);
    }
    expect(await findLeftovers(up())).toEqual([]);
  });

  it("a DNS probe says what the server answered", async () => {
    const probe = {
      kind: "dns" as const,
      name: "origin.faultline.test",
      measure: "success" as const,
      percentile: 99,
      timeoutMs: 1000,
      everyMs: 500,
    };
    const normal = await sampleDns(probe, up());
    const applied = await inject({ fault: "dns-nxdomain" });
    const refused = await sampleDns(probe, up());
    await applied.revert();
    console.log(
      `[dns] probe: ${normal.note} in ${normal.latencyMs?.toFixed(1)} ms; under NXDOMAIN: ${refused.error}`,
    );
    expect(normal.ok).toBe(true);
    expect(refused.ok).toBe(false);
    expect(refused.error).toContain("NXDOMAIN");
  });

  it("a rule ends by itself at its deadline, with no Faultline to revert it", async () => {
    await inject({ fault: "dns-nxdomain" }, 1000);
    const started = Date.now();
    expect(await listRules(dnsContainer())).toHaveLength(1);
    while ((await listRules(dnsContainer())).length > 0 && Date.now() - started < 30_000)
      await new Promise((resolve) => setTimeout(resolve, 250));
    const gone = Date.now() - started;
    console.log(
      `[dns] a rule due 1 s after it was added was removed by dnsdist itself after ${gone} ms (deadline + the watchdog's grace)`,
    );
    expect(await listRules(dnsContainer())).toEqual([]);
    expect(gone).toBeLessThan(25_000);
  });

  it("experiments/dns-origin-outage.yaml: errors while the origin's name does not resolve, and why", async () => {
    const loaded = await loadExperiment("experiments/dns-origin-outage.yaml");
    const result = await runExperiment({ loaded, replica: up(), runsDir: tempDir("it-dns-runs-"), seed: 7 });
    const events = readJournal(result.journalPath);
    const errorsIn = (phase: "baseline" | "inject" | "verify") => errorRateIn(events, phase);
    const reasons = probeErrors(events);
    const { evaluation } = result;
    console.log(
      `[dns-origin-outage] ${evaluation.verdict} (${evaluation.reason}); score ${evaluation.score?.value}; errors: baseline ${pct(errorsIn("baseline"))}, inject ${pct(errorsIn("inject"))}, verify ${pct(errorsIn("verify"))}; probe errors: ${[...reasons].join(" | ")}`,
    );
    expect(errorsIn("baseline")).toBeLessThan(0.01);
    expect(errorsIn("inject")).toBeGreaterThan(0.3);
    expect(errorsIn("verify")).toBeLessThan(0.01);
    expect([...reasons].some((r) => r.includes("NXDOMAIN"))).toBe(true);
    expect(["degraded", "failed"]).toContain(evaluation.verdict);
    expect(await findLeftovers(up())).toEqual([]);
  });
});
