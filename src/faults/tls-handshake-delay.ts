import { z } from "zod";
import { duration } from "../format/unit-schemas.js";
import type { Replica } from "../replica/replica.js";
import { LB_DELAY_MAP } from "../replica/topology.js";
import { formatDuration } from "../units.js";
import type { FaultKindModule } from "./fault-kind.js";
import { faultTiming } from "./fields.js";
import { checkTlsTarget, hold, type MapSetting, mapLeftovers, releaseEntry } from "./lb-map.js";

// Slow TLS handshakes where the PoP terminates TLS, and only them: the load balancer's TCP
// front on 443 holds each new connection's first bytes (the ClientHello) for `delay` before
// passing them on to HAProxy's TLS bind, so every handshake is that much later and what
// follows on the connection is not. The delay is an entry of the front's map, set through the
// runtime API; the shared mechanism (lb-map.ts) undoes it by itself at the fault's deadline.

export const HANDSHAKE_DELAY_MIN_MS = 1;
export const HANDSHAKE_DELAY_MAX_MS = 10_000;

export const tlsHandshakeDelayFaultSchema = z.strictObject({
  fault: z.literal("tls-handshake-delay"),
  ...faultTiming,
  delay: duration('"200ms"')
    .pipe(
      z
        .number()
        .min(HANDSHAKE_DELAY_MIN_MS, { message: "expected delay of at least 1ms" })
        .max(HANDSHAKE_DELAY_MAX_MS, { message: "expected delay of at most 10s" }),
    )
    .describe("added to every new TLS handshake (1ms to 10s); the data after it is not delayed"),
});
export type TlsHandshakeDelayFault = z.infer<typeof tlsHandshakeDelayFaultSchema>;

const setting: MapSetting = {
  id: "tls-handshake-delays",
  prefix: "delay-",
  map: LB_DELAY_MAP,
  key: "delay",
  what: "a TLS handshake delay held",
  undone: "its TLS handshakes undelayed",
};

export const tlsHandshakeDelay: FaultKindModule<typeof tlsHandshakeDelayFaultSchema> = {
  kind: "tls-handshake-delay",
  schema: tlsHandshakeDelayFaultSchema,
  summary: "delays every new TLS handshake by `delay` where the PoP terminates TLS, not the data after it",
  scaffold: {
    target: "lb",
    lines: ["delay: 200ms              # added to each new TLS handshake (1ms to 10s)"],
  },
  disruptive: () => false,
  check: (_fault, service, topology) => checkTlsTarget("a TLS handshake delay", service, topology),
  describe: (fault, service) =>
    `delay every new TLS handshake on ${service} by ${formatDuration(fault.delay)}`,
  describeRevert: (_fault, service) => `TLS handshakes on ${service} undelayed`,
  async apply(fault, context) {
    const ms = Math.max(HANDSHAKE_DELAY_MIN_MS, Math.round(fault.delay));
    const { ttl, revert } = await hold(setting, context, String(ms));
    return {
      description: `new TLS handshakes on ${context.service} delayed by ${formatDuration(ms)} (undelayed by itself after ${formatDuration(ttl * 1000)})`,
      revert,
    };
  },
  async revertEntry(entry, replica: Replica) {
    return (await releaseEntry(setting, entry, replica.topology))
      ? `TLS handshakes on ${entry.service} undelayed`
      : "no TLS handshake delay was held";
  },
  leftovers: [mapLeftovers(setting)],
};
