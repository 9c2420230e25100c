import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { faultSchema } from "../../src/experiments/schema.js";
import { kindOf } from "../../src/faults/registry.js";
import { clearEntry, writeIntent } from "../../src/lifecycle/ledger.js";
import { findLeftovers, recoverReplica, revertLedger } from "../../src/recovery/recover.js";
import { execIn } from "../../src/replica/exec.js";
import { type Replica, replicaDown, replicaUp } from "../../src/replica/replica.js";
import { containerName } from "../../src/replica/topology.js";
import { loadTopology } from "../../src/replica/topology-file.js";
import { leftovers } from "../support/replica.js";

// Origin pull over TLS (topologies/https-origin-pull.yaml): the origin serves HTTPS with a
// certificate of the replica's CA, the edges verify it. Measured on real traffic: a flawed
// certificate on that hop fails every uncached request, while cached pages are served stale
// (unlike an origin name that does not resolve, see dns.int.test.ts); after the revert,
// normal again; a crashed run's flawed certificate is undone from the ledger and by recover.

const NAME = "it-origin-pull";
let replica: Replica | undefined;
const up = () => {
  if (!replica) throw new Error("replica is not up");
  return replica;
};

beforeAll(async () => {
  const topology = await loadTopology(
    join(import.meta.dirname, "../../topologies/https-origin-pull.yaml"),
    NAME,
  );
  const result = await replicaUp({ topology });
  replica = result.replica;
  console.log(`[origin-pull] replica up in ${result.tookMs} ms`);
});

afterAll(async () => {
  await replicaDown(NAME);
  expect(await leftovers(NAME)).toEqual({ containers: [], networks: [] });
});

/** `n` requests to `path`, 100 ms apart: how many got each status and X-Cache. */
async function sample(path: string, n = 30): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = await fetch(`${up().endpoints.lb}${path}`, { signal: AbortSignal.timeout(5000) });
    await r.arrayBuffer();
    const key = `${r.status}${r.headers.get("x-cache") ? ` ${r.headers.get("x-cache")}` : ""}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return seen;
}
const count = (seen: Map<string, number>, match: RegExp) =>
  [...seen].filter(([k]) => match.test(k)).reduce((sum, [, n]) => sum + n, 0);
const show = (seen: Map<string, number>) => JSON.stringify(Object.fromEntries(seen));

let sequence = 0;
const context = (revertInMs = 60_000) => {
  sequence += 1;
  return {
    replica: up(),
    runId: `it-origin-pull-${Date.now()}`,
    faultId: `f${sequence}`,
    service: "origin",
    revertBy: Date.now() + revertInMs,
  };
};

describe("origin pull over TLS", () => {
  it("the edges verify the origin's certificate for origin.faultline.test", async () => {
    const api = await sample("/api/ok", 20);
    const { output } = await execIn(containerName(up().topology, "edge-1"), [
      "sh",
      "-c",
      "grep -c 'proxy_ssl_verify on' /etc/nginx/nginx.conf",
    ]);
    console.log(`[origin-pull] 20 requests through the TLS hop: ${show(api)}`);
    expect(count(api, /^200/)).toBe(20);
    expect(output.trim()).toBe("1");
  });

  it("an expired origin certificate: uncached requests fail, cached pages are served stale, revert ends it", async () => {
    await sample("/", 10);
    const fault = faultSchema.parse({
      fault: "tls-certificate",
      target: "origin",
      flaw: "expired",
      for: "60s",
    });
    kindOf(fault).check(fault, "origin", up().topology);
    const started = performance.now();
    const applied = await kindOf(fault).apply(fault, context());
    const applyMs = performance.now() - started;
    const api = await sample("/api/x");
    const cached = await sample("/");
    const reverting = performance.now();
    await applied.revert();
    const revertMs = performance.now() - reverting;
    const after = await sample("/api/x");
    console.log(
      `[origin-pull] expired origin certificate applied in ${applyMs.toFixed(0)} ms: /api/ ${show(api)}, / ${show(cached)}; reverted in ${revertMs.toFixed(0)} ms: /api/ ${show(after)}`,
    );
    expect(count(api, /^502/)).toBe(30);
    expect(count(cached, /^200/)).toBe(30);
    expect(count(cached, /STALE/)).toBeGreaterThan(20);
    expect(count(after, /^200/)).toBe(30);
    expect(await findLeftovers(up())).toEqual([]);
  });

  it("a wrong-name certificate left by a crashed run: found, reverted from the ledger, and swept by recover", async () => {
    const fault = faultSchema.parse({
      fault: "tls-certificate",
      target: "origin",
      flaw: "wrong-name",
      for: "60s",
    });
    const ctx = context();
    writeIntent({
      runId: ctx.runId,
      faultId: ctx.faultId,
      replica: NAME,
      kind: fault.fault,
      service: "origin",
      description: "serve a certificate for another name on origin",
      params: { flaw: "wrong-name" },
      intentAt: new Date().toISOString(),
      revertBy: ctx.revertBy,
      pid: process.pid,
    });
    await kindOf(fault).apply(fault, ctx);
    expect(await findLeftovers(up())).toContain("a flawed certificate served by origin");
    const reverted = (await revertLedger(up())).map((r) => r.what);
    clearEntry(NAME, ctx.runId, ctx.faultId);
    const afterLedger = await sample("/api/x", 10);
    // Again without a ledger entry: only recover's sweep can find it.
    await kindOf(fault).apply(fault, context());
    const swept = (await recoverReplica(up())).recovered.map((r) => `${r.target}: ${r.what}`);
    const afterSweep = await sample("/api/x", 10);
    console.log(
      `[origin-pull] ledger revert: ${JSON.stringify(reverted)}; then /api/ ${show(afterLedger)}; recover's sweep: ${JSON.stringify(swept)}; then /api/ ${show(afterSweep)}`,
    );
    expect(count(afterLedger, /^200/)).toBe(10);
    expect(count(afterSweep, /^200/)).toBe(10);
    expect(await findLeftovers(up())).toEqual([]);
  });
});
