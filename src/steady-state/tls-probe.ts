import { readFileSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { errorMessage } from "../errors.js";
import type { TlsProbe } from "../experiments/check-schema.js";
import { authorityCertFile } from "../replica/certificates.js";
import type { Replica } from "../replica/replica.js";
import { formatDuration } from "../units.js";
import type { ProbeSample } from "./checks.js";

type SampleOutcome = Omit<ProbeSample, "key" | "second">;

// A TLS probe opens a new connection for every sample and measures its handshake: the time
// from the TCP connection being up to the handshake being done (the TCP connect is not part of
// it), whether the served chain verified against the trusted CA and why not, the days until
// the served certificate expires, and the negotiated protocol and ALPN.

/** What one handshake showed, before it is judged against the probe's expectations. */
export interface Handshake {
  handshakeMs: number;
  authorized: boolean;
  /** OpenSSL's reason when verification failed (CERT_HAS_EXPIRED, ...), or the name mismatch. */
  authorizationError: string | undefined;
  protocol: string | undefined;
  alpn: string | undefined;
  /** The served leaf certificate's notAfter, epoch ms. */
  notAfter: number | undefined;
}

/** What a TLS probe needs of the replica: its name (its CA) and its TLS entry point. */
export interface TlsReplica {
  topology: Pick<Replica["topology"], "replica">;
  endpoints?: Pick<Replica["endpoints"], "lbTls">;
}

const caCache = new Map<string, string>();

/**
 * The CA a probe trusts: the replica's own (its state folder), or the system's. A replica's CA
 * does not change while it exists: read once, not at every sample.
 */
export function trustedCa(probe: TlsProbe, replica: TlsReplica): string | undefined {
  if (probe.ca === "system") return undefined;
  const file = authorityCertFile(replica.topology.replica);
  const pem = caCache.get(file) ?? readFileSync(file, "utf8");
  caCache.set(file, pem);
  return pem;
}

function tcpConnect(host: string, port: number, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port, signal });
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

/**
 * A client that takes the old versions too (TLSv1.0 and 1.1, which OpenSSL 3 allows only at
 * security level 0): only to learn what a server that refused today's client offers.
 */
const LEGACY_CLIENT = { minVersion: "TLSv1", ciphers: "DEFAULT@SECLEVEL=0" } as const;

/** Node's codes for a handshake refused over the protocol version, on either side. */
const VERSION_REFUSED = new Set([
  "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION",
  "ERR_SSL_UNSUPPORTED_PROTOCOL",
  "ERR_SSL_WRONG_VERSION_NUMBER",
]);

function handshakeOn(
  socket: Socket,
  options: {
    servername: string;
    ca: string | undefined;
    alpn: readonly string[];
    signal: AbortSignal;
    legacy?: boolean;
  },
): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({
      socket,
      servername: options.servername,
      ...(options.ca === undefined ? {} : { ca: [options.ca] }),
      ...(options.legacy ? LEGACY_CLIENT : {}),
      ALPNProtocols: [...options.alpn],
      // Verification is judged below, so that a bad certificate is measured, not thrown.
      rejectUnauthorized: false,
    });
    const abort = () => tls.destroy(new Error("aborted"));
    options.signal.addEventListener("abort", abort, { once: true });
    tls.once("secureConnect", () => {
      options.signal.removeEventListener("abort", abort);
      resolve(tls);
    });
    tls.once("error", reject);
  });
}

/** One handshake with `host:port`, measured. Throws when no handshake completes. */
export async function measureHandshake(
  host: string,
  port: number,
  options: { servername: string; ca: string | undefined; timeoutMs: number; legacy?: boolean },
): Promise<Handshake> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  const socket = await tcpConnect(host, port, signal);
  const started = performance.now();
  try {
    const tls = await handshakeOn(socket, { ...options, alpn: ["h2", "http/1.1"], signal });
    const handshakeMs = Math.round((performance.now() - started) * 100) / 100;
    const peer = tls.getPeerCertificate();
    const error = tls.authorizationError;
    const shake: Handshake = {
      handshakeMs,
      authorized: tls.authorized,
      authorizationError: error === null || error === undefined ? undefined : String(error),
      protocol: tls.getProtocol() ?? undefined,
      alpn: typeof tls.alpnProtocol === "string" ? tls.alpnProtocol : undefined,
      notAfter: peer.valid_to ? Date.parse(peer.valid_to) : undefined,
    };
    tls.destroy();
    return shake;
  } finally {
    socket.destroy();
  }
}

/** Judges a handshake against the probe's expectations: the sample a check reads. */
export function judgeHandshake(probe: TlsProbe, shake: Handshake, now = Date.now()): SampleOutcome {
  const note = [shake.protocol ?? "no protocol", shake.alpn ? `alpn ${shake.alpn}` : "no alpn"].join(", ");
  const base = {
    latencyMs: shake.handshakeMs,
    note,
    ...(shake.notAfter === undefined ? {} : { value: shake.notAfter - now }),
  };
  if (!shake.authorized)
    return {
      ...base,
      ok: false,
      error: `certificate not verified: ${shake.authorizationError ?? "unknown reason"}`,
    };
  if (probe.protocol !== undefined && shake.protocol !== probe.protocol)
    return {
      ...base,
      ok: false,
      error: `negotiated ${shake.protocol ?? "nothing"}, expected ${probe.protocol}`,
    };
  if (probe.alpn !== undefined && shake.alpn !== probe.alpn)
    return { ...base, ok: false, error: `ALPN ${shake.alpn ?? "none"}, expected ${probe.alpn}` };
  return { ...base, ok: true };
}

/** Where a TLS probe connects: its loopback address ("127.0.0.1:8443", "[::1]:8443"). */
export function tlsProbeAddress(address: string): { host: string; port: number } {
  const match = /^(.*):(\d+)$/.exec(address);
  const host = (match?.[1] ?? "127.0.0.1").replace(/^\[(.*)\]$/, "$1");
  return { host, port: Number(match?.[2] ?? 443) };
}

/** One sample of a TLS probe; failures are returned in the sample, not thrown. */
export async function sampleTls(probe: TlsProbe, replica: TlsReplica): Promise<SampleOutcome> {
  // The loader refuses endpoint: lb on a replica that serves plain HTTP.
  const address = probe.address ?? replica.endpoints?.lbTls;
  if (!address) return { ok: false, error: "the replica serves no TLS entry point" };
  const { host, port } = tlsProbeAddress(address);
  try {
    const ca = trustedCa(probe, replica);
    const shake = await measureHandshake(host, port, {
      servername: probe.servername,
      ca,
      timeoutMs: probe.timeoutMs,
    });
    return judgeHandshake(probe, shake);
  } catch (error) {
    const offered = await refusedVersion(error, host, port, probe, replica);
    if (offered) return offered;
    const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
    // A handshake that never finished counts as the slowest allowed; a refused one has no time.
    return {
      ok: false,
      ...(timedOut ? { latencyMs: probe.timeoutMs } : {}),
      error: timedOut
        ? `no handshake within ${formatDuration(probe.timeoutMs)}`
        : `${address}: handshake failed: ${errorMessage(error)}`,
    };
  }
}

/**
 * When the handshake was refused over the protocol version (the server offers only one older
 * than the client's minimum, TLSv1.2), a second handshake that takes old versions too says
 * which one: the sample fails with that version in its note. Undefined for any other failure,
 * or when the second handshake fails too.
 */
async function refusedVersion(
  error: unknown,
  host: string,
  port: number,
  probe: TlsProbe,
  replica: TlsReplica,
): Promise<SampleOutcome | undefined> {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== "string" || !VERSION_REFUSED.has(code)) return undefined;
  try {
    const shake = await measureHandshake(host, port, {
      servername: probe.servername,
      ca: trustedCa(probe, replica),
      timeoutMs: probe.timeoutMs,
      legacy: true,
    });
    const { note } = judgeHandshake(probe, shake);
    return {
      ok: false,
      ...(note === undefined ? {} : { note }),
      error: `handshake refused (${code}): the server offers only ${shake.protocol ?? "an unknown version"}, older than the TLSv1.2 clients require`,
    };
  } catch {
    return undefined;
  }
}
