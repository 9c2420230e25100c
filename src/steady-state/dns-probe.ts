import { Resolver } from "node:dns/promises";
import type { DnsProbe } from "../experiments/check-schema.js";
import type { Replica } from "../replica/replica.js";
import { formatDuration } from "../units.js";
import type { ProbeSample } from "./checks.js";

type SampleOutcome = Omit<ProbeSample, "key" | "second">;

// A DNS probe looks a name up in the replica's own DNS, as a client does: one query over UDP
// to its published port on 127.0.0.1, no retry, no cache. It measures whether an address came
// back and how long the answer took; a failure says what the server answered (ENOTFOUND is
// NXDOMAIN, ESERVFAIL, ETIMEOUT when nothing came back).

/** What a DNS probe needs of the replica: its DNS (published on 127.0.0.1). */
export interface DnsReplica {
  endpoints?: Pick<Replica["endpoints"], "dns">;
}

const answerNames: Record<string, string> = {
  ENOTFOUND: "NXDOMAIN (no such name)",
  ENODATA: "no address for the name",
  ESERVFAIL: "SERVFAIL",
  EREFUSED: "REFUSED",
  ECONNREFUSED: "the DNS server refused the connection",
};

export async function sampleDns(probe: DnsProbe, replica: DnsReplica): Promise<SampleOutcome> {
  // The loader refuses dns checks on a replica without its own DNS.
  const server = replica.endpoints?.dns;
  if (!server) return { ok: false, error: "the replica has no DNS of its own" };
  const resolver = new Resolver({ timeout: probe.timeoutMs, tries: 1 });
  resolver.setServers([server]);
  const started = performance.now();
  try {
    const addresses = await resolver.resolve4(probe.name, { ttl: true });
    const latencyMs = performance.now() - started;
    const note = addresses.map((a) => `${a.address} ttl ${a.ttl}s`).join(", ");
    return { ok: addresses.length > 0, latencyMs, note };
  } catch (error) {
    const code = error instanceof Error && "code" in error ? String(error.code) : "";
    if (code === "ETIMEOUT")
      return {
        ok: false,
        latencyMs: probe.timeoutMs,
        error: `no answer within ${formatDuration(probe.timeoutMs)}`,
      };
    return {
      ok: false,
      latencyMs: performance.now() - started,
      error: `${probe.name}: ${answerNames[code] ?? (code || String(error))}`,
    };
  }
}
