import { createServer, type Server } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Check, checkSchema, type TlsProbe } from "../../src/experiments/check-schema.js";
import { type CertificatePem, createAuthority, issueCertificate } from "../../src/replica/certificates.js";
import { percentileOf, probeValue } from "../../src/steady-state/checks.js";
import {
  judgeHandshake,
  measureHandshake,
  sampleTls,
  tlsProbeAddress,
} from "../../src/steady-state/tls-probe.js";

// The TLS probe's handshake measurement, against a real TLS server on loopback (Node's, with
// certificates from the replica's CA module), and how a window's samples become a value.

const DAY = 86_400_000;
const NAMES = ["pop.faultline.test", "127.0.0.1"];

function check(tls: Record<string, unknown>, rule: Record<string, string>): Check {
  return checkSchema.parse({ tls, ...rule });
}

function probeOf(c: Check): TlsProbe {
  if (c.probe?.kind !== "tls") throw new Error("not a tls probe");
  return c.probe;
}

async function serve(
  cert: CertificatePem,
  options: { maxVersion?: "TLSv1.2" | "TLSv1.1"; minVersion?: "TLSv1.1"; ciphers?: string } = {},
): Promise<Server> {
  const server = createServer({
    cert: cert.certPem,
    key: cert.keyPem,
    ALPNProtocols: ["h2", "http/1.1"],
    ...options,
  });
  server.on("secureConnection", (socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

const portOf = (server: Server) => (server.address() as { port: number }).port;

describe("the TLS probe on a real handshake", () => {
  let authority: CertificatePem;
  const servers: Server[] = [];
  beforeAll(async () => {
    authority = await createAuthority("unit-tls");
  });
  afterAll(() => {
    for (const server of servers) server.close();
  });
  async function handshake(flaw?: "expired" | "wrong-name" | "untrusted", maxVersion?: "TLSv1.2") {
    const server = await serve(
      await issueCertificate(authority, { names: NAMES, flaw }),
      maxVersion ? { maxVersion } : {},
    );
    servers.push(server);
    return measureHandshake("127.0.0.1", portOf(server), {
      servername: "pop.faultline.test",
      ca: authority.certPem,
      timeoutMs: 2000,
    });
  }

  it("measures a sound certificate: verified, TLSv1.3, h2, about 90 days left", async () => {
    const shake = await handshake();
    const days = ((shake.notAfter ?? 0) - Date.now()) / DAY;
    console.log(
      `[tls] sound: ${shake.handshakeMs} ms, ${shake.protocol}, ${shake.alpn}, ${days.toFixed(1)} days left`,
    );
    expect(shake).toMatchObject({ authorized: true, protocol: "TLSv1.3", alpn: "h2" });
    expect(days).toBeGreaterThan(89);
    expect(days).toBeLessThanOrEqual(90);
    const probe = probeOf(
      check({ address: "127.0.0.1:1", alpn: "h2", protocol: "TLSv1.3" }, { atLeast: "100%" }),
    );
    expect(judgeHandshake(probe, shake)).toMatchObject({ ok: true, note: "TLSv1.3, alpn h2" });
  });

  it.each([
    ["expired", "CERT_HAS_EXPIRED"],
    ["wrong-name", "ERR_TLS_CERT_ALTNAME_INVALID"],
    ["untrusted", "UNABLE_TO_VERIFY_LEAF_SIGNATURE"],
  ] as const)("says why a %s certificate did not verify", async (flaw, reason) => {
    const shake = await handshake(flaw);
    const probe = probeOf(check({ address: "127.0.0.1:1" }, { atLeast: "100%" }));
    const sample = judgeHandshake(probe, shake);
    console.log(`[tls] ${flaw}: ${sample.error}`);
    expect(sample.ok).toBe(false);
    expect(sample.error).toContain(reason);
  });

  it("names the old version a server offers alone when today's client refuses it", async () => {
    // OpenSSL 3 takes TLSv1.1 only at security level 0, on either side.
    const server = await serve(await issueCertificate(authority, { names: NAMES }), {
      minVersion: "TLSv1.1",
      maxVersion: "TLSv1.1",
      ciphers: "DEFAULT@SECLEVEL=0",
    });
    servers.push(server);
    const probe = probeOf(
      check({ address: `127.0.0.1:${portOf(server)}`, ca: "system" }, { atLeast: "100%" }),
    );
    const sample = await sampleTls(probe, { topology: { replica: "unit-tls" } });
    console.log(`[tls] TLSv1.1 only: ${sample.note}; ${sample.error}`);
    expect(sample.ok).toBe(false);
    expect(sample.note).toMatch(/^TLSv1\.1, /);
    expect(sample.error).toMatch(
      /^handshake refused \(ERR_SSL_\w+\): the server offers only TLSv1.1, older than/,
    );
  });

  it("fails a handshake that negotiates another protocol than expected", async () => {
    const shake = await handshake(undefined, "TLSv1.2");
    const probe = probeOf(check({ address: "127.0.0.1:1", protocol: "TLSv1.3" }, { atLeast: "100%" }));
    expect(judgeHandshake(probe, shake)).toMatchObject({
      ok: false,
      error: "negotiated TLSv1.2, expected TLSv1.3",
    });
  });
});

describe("TLS checks", () => {
  it("parse handshake percentiles and days to expiry", () => {
    const handshake = check({ address: "127.0.0.1:8443", measure: "handshake" }, { below: "50ms" });
    expect(handshake).toMatchObject({
      metric: "tls.handshake",
      threshold: 50,
      name: "tls 127.0.0.1:8443 handshake p99 below 50ms",
    });
    const expiry = check({ address: "[::1]:8443", measure: "expiry" }, { atLeast: "7d" });
    expect(expiry).toMatchObject({ metric: "tls.expiry", threshold: 7 * DAY });
    expect(tlsProbeAddress("[::1]:8443")).toEqual({ host: "::1", port: 8443 });
  });

  it("refuse an address off this machine, and address with endpoint", () => {
    expect(
      checkSchema.safeParse({ tls: { address: "10.0.0.1:443" }, atLeast: "1" }).error?.issues[0]?.message,
    ).toContain("expected a loopback address");
    expect(
      checkSchema.safeParse({ tls: { address: "127.0.0.1:443", endpoint: "lb" }, atLeast: "1" }).error
        ?.issues[0]?.message,
    ).toBe("expected either address or endpoint, not both");
  });

  it("turn a window's samples into p99 handshake, the soonest expiry, the verified share", () => {
    const samples = [3, 4, 5, 6, 50].map((latencyMs, i) => ({
      key: "k",
      second: i,
      latencyMs,
      value: (90 - i) * DAY,
      ok: i !== 4,
    }));
    const handshake = check(
      { address: "127.0.0.1:1", measure: "handshake", percentile: 50 },
      { below: "50ms" },
    );
    expect(probeValue(handshake, samples).value).toBe(5);
    expect(
      probeValue(check({ address: "127.0.0.1:1", measure: "expiry" }, { atLeast: "7d" }), samples).value,
    ).toBe(86 * DAY);
    expect(probeValue(check({ address: "127.0.0.1:1" }, { atLeast: "100%" }), samples).value).toBe(0.8);
    expect(percentileOf([1, 2, 3, 4, 100], 99)).toBe(100);
    expect(percentileOf([], 99)).toBeUndefined();
  });
});
