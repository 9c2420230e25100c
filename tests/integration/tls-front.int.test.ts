import { readFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { connect } from "node:tls";
import { describe, expect, it } from "vitest";
import { checkSchema, type TlsProbe } from "../../src/experiments/check-schema.js";
import { faultSchema } from "../../src/experiments/schema.js";
import type { AppliedFault } from "../../src/faults/fault-kind.js";
import { kindOf } from "../../src/faults/registry.js";
import { findLeftovers } from "../../src/recovery/recover.js";
import { authorityCertFile } from "../../src/replica/certificates.js";
import { percentileOf } from "../../src/steady-state/checks.js";
import { sampleTls } from "../../src/steady-state/tls-probe.js";
import { type HttpsLoadResult, httpsLoad } from "../support/https-load.js";
import { useReplica } from "../support/replica.js";

// The TLS faults that act on new connections at the load balancer's TCP front on 443, measured
// on the real replica (topologies/https.yaml): tls-handshake-delay raises the handshake time by
// its delay and leaves requests on an open connection alone; tls-protocol has the front offer
// an old version alone, which today's clients refuse.

const NAME = "it-tls-front";
const replica = useReplica(NAME, { topologyFile: "topologies/https.yaml" });

function tlsProbe(fields: Record<string, unknown> = {}): TlsProbe {
  const check = checkSchema.parse({ tls: { endpoint: "lb", ...fields }, atLeast: "100%" });
  if (check.probe?.kind !== "tls") throw new Error("not a tls probe");
  return check.probe;
}

let sequence = 0;
async function apply(yaml: Record<string, unknown>): Promise<{ applied: AppliedFault; applyMs: number }> {
  const fault = faultSchema.parse({ target: "lb", for: "60s", ...yaml });
  sequence += 1;
  const started = performance.now();
  const applied = await kindOf(fault).apply(fault, {
    replica: replica(),
    runId: `it-tls-front-${Date.now()}-${sequence}`,
    faultId: "f1",
    service: "lb",
    revertBy: Date.now() + 60_000,
  });
  return { applied, applyMs: performance.now() - started };
}

/** `n` handshakes by the tls probe, one after another: their times and the last sample. */
async function handshakes(n: number, probe = tlsProbe()) {
  const times: number[] = [];
  let last: Awaited<ReturnType<typeof sampleTls>> | undefined;
  for (let i = 0; i < n; i++) {
    last = await sampleTls(probe, replica());
    if (last.latencyMs !== undefined) times.push(last.latencyMs);
  }
  const p = (q: number) => percentileOf(times, q) ?? Number.NaN;
  return { times, p50: p(50), p99: p(99), last };
}

/**
 * One kept-alive HTTPS connection: the first request (its handshake included), then `n`
 * requests on the same connection, each timed from sending to the end of its response.
 */
async function keptAlive(n: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: readFileSync(authorityCertFile(NAME)) });
  const [host, port] = (replica().endpoints.lbTls ?? "").split(":");
  const once = () =>
    new Promise<{ ms: number; reused: boolean }>((resolve, reject) => {
      const started = performance.now();
      const req = request(
        { host, port: Number(port), path: "/", agent, servername: "pop.faultline.test" },
        (res) => {
          res.resume();
          res.on("end", () => resolve({ ms: performance.now() - started, reused: req.reusedSocket }));
        },
      );
      req.on("error", reject);
      req.end();
    });
  try {
    const first = await once();
    const after: number[] = [];
    let reused = 0;
    for (let i = 0; i < n; i++) {
      const r = await once();
      after.push(r.ms);
      if (r.reused) reused++;
    }
    return {
      first: first.ms,
      p50: percentileOf(after, 50) ?? Number.NaN,
      p99: percentileOf(after, 99) ?? Number.NaN,
      reused,
    };
  } finally {
    agent.destroy();
  }
}

/** A handshake by Node's TLS client with its defaults (or `options`): the protocol, or the error's code. */
function nodeClient(options: { minVersion?: "TLSv1.3" } = {}): Promise<string> {
  const [host, port] = (replica().endpoints.lbTls ?? "").split(":");
  return new Promise((resolve) => {
    const socket = connect({
      host,
      port: Number(port),
      servername: "pop.faultline.test",
      ca: readFileSync(authorityCertFile(NAME)),
      ...options,
    });
    socket.once("secureConnect", () => {
      resolve(socket.getProtocol() ?? "no protocol");
      socket.destroy();
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(`error ${error.code ?? error.message}`));
  });
}

const newConnectionLoad = () => httpsLoad(replica(), { ms: 1500, rate: 20 });

describe("tls-handshake-delay", () => {
  it("raises the handshakes by the delay (p50 within 10%, p99 at least 90% of it), not the requests on a kept-alive connection", async () => {
    const DELAY = 200;
    // 100 handshakes per figure, after a warm-up: a p99 of fewer is one outlier on a shared machine.
    await handshakes(20);
    const before = await handshakes(100);
    const aliveBefore = await keptAlive(30);
    const { applied, applyMs } = await apply({ fault: "tls-handshake-delay", delay: `${DELAY}ms` });
    let under: Awaited<ReturnType<typeof handshakes>>;
    let aliveUnder: Awaited<ReturnType<typeof keptAlive>>;
    try {
      expect(await findLeftovers(replica())).toEqual(["a TLS handshake delay held by lb"]);
      under = await handshakes(100);
      aliveUnder = await keptAlive(30);
    } finally {
      await applied.revert();
    }
    const after = await handshakes(100);
    const raised = under.p99 - before.p99;
    console.log(
      `[tls-handshake-delay] ${DELAY}ms applied in ${applyMs.toFixed(0)} ms; handshakes (100 each) p50/p99: before ${before.p50.toFixed(1)}/${before.p99.toFixed(1)} ms, under ${under.p50.toFixed(1)}/${under.p99.toFixed(1)} ms (p99 raised by ${raised.toFixed(1)} ms, p50 by ${(under.p50 - before.p50).toFixed(1)} ms), after revert ${after.p50.toFixed(1)}/${after.p99.toFixed(1)} ms`,
    );
    console.log(
      `[tls-handshake-delay] kept-alive connection, first request (with its handshake) then 30 on it, p50/p99: before ${aliveBefore.first.toFixed(1)} ms then ${aliveBefore.p50.toFixed(2)}/${aliveBefore.p99.toFixed(2)} ms; under the delay ${aliveUnder.first.toFixed(1)} ms then ${aliveUnder.p50.toFixed(2)}/${aliveUnder.p99.toFixed(2)} ms (${aliveUnder.reused}/30 on the same connection)`,
    );
    // The median carries the added delay; the tail adds this machine's scheduling noise too
    // (p99 raised by 222.6 ms once under a loaded CI run): bounded, not pinned to 10%.
    expect(Math.abs(under.p50 - before.p50 - DELAY)).toBeLessThanOrEqual(DELAY * 0.1);
    expect(raised).toBeGreaterThan(DELAY * 0.9);
    expect(raised).toBeLessThan(DELAY * 1.5);
    expect(under.last?.ok).toBe(true);
    expect(aliveUnder.reused).toBe(30);
    expect(aliveUnder.first).toBeGreaterThan(DELAY);
    // The requests after the handshake: not raised (less than a tenth of the delay above before).
    expect(aliveUnder.p99 - aliveBefore.p99).toBeLessThan(DELAY * 0.1);
    expect(after.p99).toBeLessThan(before.p99 + DELAY * 0.1);
    expect(await findLeftovers(replica())).toEqual([]);
  });

  it("overlapping delays: the newest holds while it lasts, then the other's again", async () => {
    const first = await apply({ fault: "tls-handshake-delay", delay: "100ms" });
    const second = await apply({ fault: "tls-handshake-delay", delay: "300ms" });
    try {
      const both = await handshakes(5);
      await second.applied.revert();
      const firstOnly = await handshakes(5);
      await first.applied.revert();
      const none = await handshakes(5);
      console.log(
        `[tls-handshake-delay] 100ms then 300ms overlapping: p50 ${both.p50.toFixed(1)} ms; the 300ms one reverted: ${firstOnly.p50.toFixed(1)} ms; both reverted: ${none.p50.toFixed(1)} ms`,
      );
      expect(both.p50).toBeGreaterThan(290);
      expect(firstOnly.p50).toBeGreaterThan(95);
      expect(firstOnly.p50).toBeLessThan(200);
      expect(none.p50).toBeLessThan(50);
    } finally {
      await second.applied.revert();
      await first.applied.revert();
    }
    expect(await findLeftovers(replica())).toEqual([]);
  });
});

describe("tls-protocol", () => {
  it("offer TLSv1.1: Node's client and vegeta refuse it, the probe names it; after the revert TLSv1.3 again", async () => {
    expect(await nodeClient()).toBe("TLSv1.3");
    const { applied, applyMs } = await apply({ fault: "tls-protocol" });
    let node: string;
    let probe: Awaited<ReturnType<typeof handshakes>>;
    let load: HttpsLoadResult;
    try {
      node = await nodeClient();
      probe = await handshakes(3);
      load = await newConnectionLoad();
    } finally {
      await applied.revert();
    }
    const nodeAfter = await nodeClient();
    const probeAfter = await handshakes(3);
    const loadAfter = await newConnectionLoad();
    console.log(
      `[tls-protocol] TLSv1.1 applied in ${applyMs.toFixed(0)} ms; Node's client: ${node}; probe: note "${probe.last?.note}", ${probe.last?.error}; vegeta new-connection load: ${load.ok}/${load.requests} ok (${load.firstError})`,
    );
    console.log(
      `[tls-protocol] after the revert: Node's client ${nodeAfter}; probe ok ${probeAfter.last?.ok}, note "${probeAfter.last?.note}"; vegeta ${loadAfter.ok}/${loadAfter.requests} ok`,
    );
    expect(node).toMatch(/^error ERR_SSL_/);
    expect(probe.last?.ok).toBe(false);
    expect(probe.last?.note).toMatch(/^TLSv1\.1, /);
    expect(load.ok).toBe(0);
    expect(load.requests).toBeGreaterThan(0);
    expect(nodeAfter).toBe("TLSv1.3");
    expect(probeAfter.last).toMatchObject({ ok: true, note: "TLSv1.3, alpn h2" });
    expect(loadAfter.ok).toBe(loadAfter.requests);
    expect(await findLeftovers(replica())).toEqual([]);
  });

  it("offer TLSv1.2: a check expecting TLSv1.3 fails and a client requiring it refuses; default clients carry on", async () => {
    const { applied } = await apply({ fault: "tls-protocol", offer: "TLSv1.2" });
    let strict: string;
    let lenient: string;
    let probe: Awaited<ReturnType<typeof handshakes>>;
    try {
      strict = await nodeClient({ minVersion: "TLSv1.3" });
      lenient = await nodeClient();
      probe = await handshakes(3, tlsProbe({ protocol: "TLSv1.3" }));
    } finally {
      await applied.revert();
    }
    const probeAfter = await handshakes(3, tlsProbe({ protocol: "TLSv1.3" }));
    console.log(
      `[tls-protocol] TLSv1.2: a client requiring TLSv1.3: ${strict}; Node's default client: ${lenient}; probe expecting TLSv1.3: ${probe.last?.error} (note "${probe.last?.note}"); after the revert: ok ${probeAfter.last?.ok}, note "${probeAfter.last?.note}"`,
    );
    expect(strict).toMatch(/^error ERR_SSL_/);
    expect(lenient).toBe("TLSv1.2");
    expect(probe.last).toMatchObject({ ok: false, error: "negotiated TLSv1.2, expected TLSv1.3" });
    expect(probeAfter.last?.ok).toBe(true);
    expect(await findLeftovers(replica())).toEqual([]);
  });
});
