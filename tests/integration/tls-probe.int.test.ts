import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkSchema, type TlsProbe } from "../../src/experiments/check-schema.js";
import { authorityDir, issueCertificate, replicaAuthority } from "../../src/replica/certificates.js";
import { LABEL_REPLICA } from "../../src/replica/docker.js";
import { engine } from "../../src/replica/engine.js";
import { percentileOf } from "../../src/steady-state/checks.js";
import { sampleTls } from "../../src/steady-state/tls-probe.js";
import { leftovers } from "../support/replica.js";

// The TLS probe against a real nginx (the edge image, nginx-light with http_ssl and http_v2)
// serving a certificate of the replica's CA: handshake times, days to expiry, the negotiated
// protocol and ALPN, measured; then the certificate swapped for an expired one and nginx
// reloaded (what a certificate fault does), and the probe's verdict measured on new handshakes.

const NAME = "it-tls-probe";
const CONTAINER = `faultline-${NAME}-edge`;
const NAMES = ["pop.faultline.test", "127.0.0.1"];
const NGINX = `worker_processes 1;
error_log stderr warn;
events { worker_connections 256; }
http {
  access_log off;
  server {
    listen 443 ssl http2;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate /etc/faultline/tls/cert.pem;
    ssl_certificate_key /etc/faultline/tls/key.pem;
    location / { return 200 "ok\\n"; }
  }
}`;

const topology = { replica: NAME };
let address = "";

function probe(fields: Record<string, unknown>): TlsProbe {
  const check = checkSchema.parse({ tls: { address, ...fields }, atLeast: "100%" });
  if (check.probe?.kind !== "tls") throw new Error("not a tls probe");
  return check.probe;
}

async function putCertificate(flaw?: "expired"): Promise<void> {
  const cert = await issueCertificate(await replicaAuthority(NAME), { names: NAMES, flaw });
  await engine().putFile(CONTAINER, "/etc/faultline/tls/cert.pem", cert.certPem);
  await engine().putFile(CONTAINER, "/etc/faultline/tls/key.pem", cert.keyPem);
}

async function samples(p: TlsProbe, count: number) {
  const out = [];
  for (let i = 0; i < count; i++) out.push(await sampleTls(p, { topology }));
  return out;
}

beforeAll(async () => {
  const id = await engine().createContainer({
    name: CONTAINER,
    Image: "faultline/edge:local",
    Labels: { [LABEL_REPLICA]: NAME, "faultline.role": "edge" },
    Env: [`FAULTLINE_CONFIG=${NGINX}`],
    ExposedPorts: { "443/tcp": {} },
    HostConfig: { PortBindings: { "443/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] }, AutoRemove: false },
  });
  await putCertificate();
  await engine().startContainer(id);
  const info = await engine().inspectContainer(id);
  const port = info.NetworkSettings.Ports["443/tcp"]?.[0]?.HostPort;
  address = `127.0.0.1:${port}`;
  for (let i = 0; i < 50; i++) {
    if ((await sampleTls(probe({}), { topology })).ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
});

afterAll(async () => {
  await engine()
    .removeContainer(CONTAINER, { force: true })
    .catch(() => {});
  expect(await leftovers(NAME)).toEqual({ containers: [], networks: [] });
  rmSync(authorityDir(NAME), { recursive: true, force: true });
});

describe("the TLS probe on real nginx", () => {
  it("measures handshakes, expiry, protocol and ALPN of a sound certificate", async () => {
    const measured = await samples(probe({ protocol: "TLSv1.3", alpn: "h2" }), 50);
    const times = measured.flatMap((s) => (s.latencyMs === undefined ? [] : [s.latencyMs]));
    const days = (measured[0]?.value ?? 0) / 86_400_000;
    console.log(
      `[tls-probe] 50 new handshakes with nginx: p50 ${percentileOf(times, 50)} ms, p99 ${percentileOf(times, 99)} ms; ${measured[0]?.note}; ${days.toFixed(2)} days to expiry; ${measured.filter((s) => s.ok).length}/50 verified`,
    );
    expect(measured.every((s) => s.ok === true)).toBe(true);
    expect(measured[0]?.note).toBe("TLSv1.3, alpn h2");
    expect(days).toBeGreaterThan(89);
  });

  it("sees an expired certificate on new handshakes once nginx reloads it", async () => {
    await putCertificate("expired");
    const reloadedAt = performance.now();
    const reload = await engine().exec(CONTAINER, ["nginx", "-s", "reload"]);
    expect(reload.exitCode).toBe(0);
    let first: number | undefined;
    for (let i = 0; i < 100 && first === undefined; i++) {
      const [sample] = await samples(probe({}), 1);
      if (sample?.error?.includes("CERT_HAS_EXPIRED")) first = performance.now() - reloadedAt;
      else await new Promise((r) => setTimeout(r, 20));
    }
    // The old worker may still take a connection or two while it drains (measured below).
    const draining = await samples(probe({}), 20);
    await new Promise((r) => setTimeout(r, 1000));
    const after = await samples(probe({}), 20);
    const failed = after.filter((s) => s.error?.includes("CERT_HAS_EXPIRED")).length;
    console.log(
      `[tls-probe] expired certificate seen ${first?.toFixed(0)} ms after the reload; ${draining.filter((s) => s.ok).length}/20 sound handshakes right after it; 1 s later ${failed}/20 handshakes failed: ${after[0]?.error}; expiry value ${((after[0]?.value ?? 0) / 86_400_000).toFixed(2)} days`,
    );
    expect(first).toBeDefined();
    expect(failed).toBe(20);
    expect(after[0]?.value).toBeLessThan(0);
    await putCertificate();
    expect((await engine().exec(CONTAINER, ["nginx", "-s", "reload"])).exitCode).toBe(0);
  });
});
