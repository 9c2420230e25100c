import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkSchema, type TlsProbe } from "../../src/experiments/check-schema.js";
import { loadExperiment } from "../../src/experiments/loader.js";
import { faultSchema } from "../../src/experiments/schema.js";
import { kindOf } from "../../src/faults/registry.js";
import { readJournal } from "../../src/journal/journal.js";
import { findLeftovers } from "../../src/recovery/recover.js";
import { authorityCertFile } from "../../src/replica/certificates.js";
import { type Replica, replicaDown, replicaUp } from "../../src/replica/replica.js";
import { loadTopology } from "../../src/replica/topology-file.js";
import { runExperiment } from "../../src/run/runner.js";
import { percentileOf } from "../../src/steady-state/checks.js";
import { sampleTls } from "../../src/steady-state/tls-probe.js";
import { VegetaDriver } from "../../src/steady-state/vegeta.js";
import { httpsLoad } from "../support/https-load.js";
import { errorRateIn, probeErrors } from "../support/journal.js";
import { leftovers } from "../support/replica.js";
import { tempDir } from "../support/temp.js";

// The built-in PoP with tls: { terminate: lb } (topologies/https.yaml): HAProxy serves HTTPS
// with a certificate of the replica's CA. Measured: handshakes (time, protocol, ALPN, days to
// expiry), HTTPS load with a new connection per request, and a run whose load and checks go
// over TLS.

const NAME = "it-https";
let replica: Replica | undefined;
const up = () => {
  if (!replica) throw new Error("replica is not up");
  return replica;
};

beforeAll(async () => {
  const topology = await loadTopology(join(import.meta.dirname, "../../topologies/https.yaml"), NAME);
  const result = await replicaUp({ topology });
  replica = result.replica;
  console.log(`[https] replica up in ${result.tookMs} ms; TLS entry point ${replica.endpoints.lbTls}`);
});

afterAll(async () => {
  await replicaDown(NAME);
  expect(await leftovers(NAME)).toEqual({ containers: [], networks: [] });
});

const load = (ms: number) => httpsLoad(up(), { ms, rate: 40 });

function tlsProbe(fields: Record<string, unknown>): TlsProbe {
  const check = checkSchema.parse({ tls: { endpoint: "lb", ...fields }, atLeast: "100%" });
  if (check.probe?.kind !== "tls") throw new Error("not a tls probe");
  return check.probe;
}

describe("HTTPS at the load balancer", () => {
  it("serves TLSv1.3 with h2 and a certificate of the replica's CA for the PoP's name", async () => {
    const samples = [];
    for (let i = 0; i < 50; i++)
      samples.push(await sampleTls(tlsProbe({ protocol: "TLSv1.3", alpn: "h2" }), up()));
    const times = samples.flatMap((s) => (s.latencyMs === undefined ? [] : [s.latencyMs]));
    const days = (samples[0]?.value ?? 0) / 86_400_000;
    console.log(
      `[https] 50 handshakes with HAProxy: p50 ${percentileOf(times, 50)} ms, p99 ${percentileOf(times, 99)} ms; ${samples[0]?.note}; ${days.toFixed(2)} days to expiry; ${samples.filter((s) => s.ok).length}/50 verified`,
    );
    expect(samples.filter((s) => !s.ok).map((s) => s.error)).toEqual([]);
    expect(days).toBeGreaterThan(89);
  });

  it("takes HTTPS load with a new connection and handshake for every request", async () => {
    const statuses = new Map<number, number>();
    const latencies: number[] = [];
    const load = new VegetaDriver().start(
      {
        url: `https://${up().endpoints.lbTls}/`,
        ratePerSecond: 50,
        maxDurationMs: 3000,
        timeoutMs: 2000,
        connection: "new",
        caFile: authorityCertFile(NAME),
      },
      (sample) => {
        statuses.set(sample.status, (statuses.get(sample.status) ?? 0) + 1);
        latencies.push(sample.latencyMs);
      },
    );
    const summary = await load.finished;
    console.log(
      `[https] new-connection HTTPS load: ${summary.samples} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}, p50 ${percentileOf(latencies, 50)?.toFixed(2)} ms, p99 ${percentileOf(latencies, 99)?.toFixed(2)} ms`,
    );
    expect(statuses.get(200)).toBe(summary.samples);
  });

  it("an expired certificate makes new-connection HTTPS load fail with certificate errors, and revert ends them", async () => {
    const fault = faultSchema.parse({ fault: "tls-certificate", target: "lb", flaw: "expired", for: "30s" });
    const context = {
      replica: up(),
      runId: `it-https-${Date.now()}`,
      faultId: "f1",
      service: "lb",
      revertBy: Date.now() + 30_000,
    };
    const started = performance.now();
    const applied = await kindOf(fault).apply(fault, context);
    const applyMs = performance.now() - started;
    const under = await load(2000);
    const revertStarted = performance.now();
    await applied.revert();
    const revertMs = performance.now() - revertStarted;
    const after = await load(2000);
    console.log(
      `[https] expired certificate applied in ${applyMs.toFixed(0)} ms: ${under.certificateErrors}/${under.requests} new-connection requests failed on the certificate (${under.firstError}); reverted in ${revertMs.toFixed(0)} ms: ${after.certificateErrors}/${after.requests} after`,
    );
    expect(under.certificateErrors).toBe(under.requests);
    expect(after.certificateErrors).toBe(0);
    expect(after.ok).toBe(after.requests);
    expect(await findLeftovers(up())).toEqual([]);
  });

  it("experiments/tls-expiry.yaml: errors only while the expired certificate is served, and why", async () => {
    const loaded = await loadExperiment("experiments/tls-expiry.yaml");
    const result = await runExperiment({
      loaded,
      replica: up(),
      runsDir: tempDir("it-https-runs-"),
      seed: 7,
    });
    const events = readJournal(result.journalPath);
    const errorsIn = (phase: "baseline" | "inject" | "verify") => errorRateIn(events, phase);
    const reasons = probeErrors(events);
    const { evaluation } = result;
    console.log(
      `[tls-expiry] ${evaluation.verdict} (${evaluation.reason}); score ${evaluation.score?.value}; errors: baseline ${(errorsIn("baseline") * 100).toFixed(1)}%, inject ${(errorsIn("inject") * 100).toFixed(1)}%, verify ${(errorsIn("verify") * 100).toFixed(1)}%; probe errors: ${[...reasons].join(" | ")}`,
    );
    expect(errorsIn("baseline")).toBeLessThan(0.01);
    expect(errorsIn("inject")).toBeGreaterThan(0.8);
    expect(errorsIn("verify")).toBeLessThan(0.01);
    expect([...reasons].some((r) => r.includes("CERT_HAS_EXPIRED"))).toBe(true);
    expect(["degraded", "failed"]).toContain(evaluation.verdict);
    expect(await findLeftovers(up())).toEqual([]);
  });
});
