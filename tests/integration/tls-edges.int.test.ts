import { readFileSync } from "node:fs";
import { connect, type PeerCertificate } from "node:tls";
import { describe, expect, it } from "vitest";
import { findLeftovers, recoverReplica } from "../../src/recovery/recover.js";
import { authorityCertFile } from "../../src/replica/certificates.js";
import { edgeStates, type Replica } from "../../src/replica/replica.js";
import { applyFault } from "../support/fault-context.js";
import { httpsLoad } from "../support/https-load.js";
import { useReplica } from "../support/replica.js";

// TLS at the edges (topologies/https-edges.yaml), measured on the real replica: HAProxy passes
// 443 through to the edges, which end TLS with HTTP/2 by ALPN; a flawed certificate on one edge
// reaches that edge's share of new connections (the pass-through checks do not verify it),
// while plain HTTP, re-encrypted with verification, routes around the edge; the revert and
// `recover` end it.

const NAME = "it-tls-edges";
const replica = useReplica(NAME, { topologyFile: "topologies/https-edges.yaml" });

/** One TLS handshake through the load balancer's 443: ALPN, protocol, the served certificate's names. */
function handshake(r: Replica): Promise<{ alpn: string; protocol: string; names: string; error?: string }> {
  const [host, port] = (r.endpoints.lbTls ?? "").split(":");
  return new Promise((resolve) => {
    const socket = connect({
      host,
      port: Number(port),
      servername: "pop.faultline.test",
      ALPNProtocols: ["h2", "http/1.1"],
      ca: readFileSync(authorityCertFile(NAME)),
    });
    socket.once("secureConnect", () => {
      const cert: PeerCertificate = socket.getPeerCertificate();
      resolve({
        alpn: String(socket.alpnProtocol),
        protocol: socket.getProtocol() ?? "",
        names: cert.subjectaltname ?? "",
      });
      socket.destroy();
    });
    socket.once("error", (error: NodeJS.ErrnoException) =>
      resolve({ alpn: "", protocol: "", names: "", error: error.code ?? error.message }),
    );
  });
}

/** Waits (up to 10 s) until the load balancer's view of `edge` on port 80's backend is `state`: how long it took. */
async function edgeBecomes(r: Replica, edge: string, state: string): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < 10_000) {
    if ((await edgeStates(r)).get(edge) === state) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${edge} did not become ${state} within 10 s`);
}

/** `n` plain-HTTP requests through port 80 (re-encrypted to the edges): "status edge" each. */
async function plainHttp(r: Replica, n: number): Promise<string[]> {
  const seen: string[] = [];
  for (let i = 0; i < n; i++) {
    const response = await fetch(`${r.endpoints.lb}/`, { signal: AbortSignal.timeout(5000) });
    await response.arrayBuffer();
    seen.push(`${response.status} ${response.headers.get("x-edge")}`);
  }
  return seen;
}

const tally = (list: string[]) =>
  Object.fromEntries([...new Set(list)].map((k) => [k, list.filter((x) => x === k).length]));

describe("TLS at the edges", () => {
  it("the edges end TLS behind the pass-through: HTTP/2 by ALPN, each edge's own certificate", async () => {
    const shakes = await Promise.all([1, 2, 3].map(() => handshake(replica())));
    const load = await httpsLoad(replica(), { ms: 1500, rate: 30 });
    console.log(
      `[tls-edges] handshakes: ${shakes.map((s) => `${s.protocol} ${s.alpn} (${s.names.match(/edge-\d/)?.[0]})`).join(", ")}; new-connection load ${load.ok}/${load.requests} ok, by edge ${JSON.stringify(load.okByEdge)}`,
    );
    for (const s of shakes) expect(s).toMatchObject({ alpn: "h2", protocol: "TLSv1.3" });
    expect(shakes[0]?.names).toMatch(/DNS:pop\.faultline\.test, DNS:edge-\d\.faultline\.test/);
    expect(load.ok).toBe(load.requests);
    expect(Object.keys(load.okByEdge).sort()).toEqual(["edge-1", "edge-2", "edge-3"]);
  });

  it("an expired certificate on edge-1: its share of HTTPS fails on the certificate, plain HTTP routes around it", async () => {
    const { applied, applyMs } = await applyFault(replica(), "edge-1", {
      fault: "tls-certificate",
      flaw: "expired",
    });
    let under: Awaited<ReturnType<typeof httpsLoad>>;
    let downMs: number;
    let plain: string[];
    try {
      [under, downMs] = await Promise.all([
        httpsLoad(replica(), { ms: 3000, rate: 30 }),
        edgeBecomes(replica(), "edge-1", "down"),
      ]);
      plain = await plainHttp(replica(), 15);
    } finally {
      await applied.revert();
    }
    const upMs = await edgeBecomes(replica(), "edge-1", "up");
    const after = await httpsLoad(replica(), { ms: 1500, rate: 30 });
    const share = under.certificateErrors / under.requests;
    console.log(
      `[tls-edges] expired certificate on edge-1 applied in ${applyMs.toFixed(0)} ms: ${under.certificateErrors}/${under.requests} new-connection requests (${(share * 100).toFixed(1)}%) failed on the certificate (${under.firstError}); 200s by edge ${JSON.stringify(under.okByEdge)}; port 80's backend had edge-1 down ${(downMs / 1000).toFixed(1)} s after the fault, then plain HTTP ${JSON.stringify(tally(plain))}; reverted: edge-1 up again after ${(upMs / 1000).toFixed(1)} s, ${after.ok}/${after.requests} ok`,
    );
    expect(share).toBeGreaterThan(0.15);
    expect(share).toBeLessThan(0.5);
    expect(under.okByEdge["edge-1"]).toBeUndefined();
    expect(under.ok + under.certificateErrors).toBe(under.requests);
    expect(plain.every((p) => /^200 edge-[23]$/.test(p))).toBe(true);
    expect(after.ok).toBe(after.requests);
    expect(await findLeftovers(replica())).toEqual([]);
  });

  it("a flawed edge certificate left by a crashed run is found and swept by recover", async () => {
    await applyFault(replica(), "edge-2", { fault: "tls-certificate", flaw: "untrusted" });
    expect(await findLeftovers(replica())).toContain("a flawed certificate served by edge-2");
    const swept = (await recoverReplica(replica())).recovered.map((r) => `${r.target}: ${r.what}`);
    const after = await httpsLoad(replica(), { ms: 1500, rate: 30 });
    console.log(
      `[tls-edges] recover's sweep: ${JSON.stringify(swept)}; then ${after.ok}/${after.requests} ok`,
    );
    expect(swept).toContain("edge-2: its own certificate served again");
    expect(after.ok).toBe(after.requests);
    expect(await findLeftovers(replica())).toEqual([]);
  });
});
