import { z } from "zod";
import type { Replica } from "../replica/replica.js";
import { LB_OFFER_MAP, LB_OFFERS } from "../replica/topology.js";
import { formatDuration } from "../units.js";
import type { FaultKindModule } from "./fault-kind.js";
import { faultTiming } from "./fields.js";
import { checkTlsTarget, hold, type MapSetting, mapLeftovers, releaseEntry } from "./lb-map.js";

// An old TLS protocol version offered alone where the PoP terminates TLS, so that clients that
// require a newer one refuse the handshake: TLSv1.0 or 1.1 (refused by today's clients, whose
// minimum is TLSv1.2), or TLSv1.2 (refused by a client or a check requiring TLSv1.3). The load
// balancer's TCP front on 443 routes new connections to a TLS bind offering only that version
// (an entry of its map, set through the runtime API); connections already open keep theirs.
// The shared mechanism (lb-map.ts) undoes it by itself at the fault's deadline.

export const tlsProtocolFaultSchema = z.strictObject({
  fault: z.literal("tls-protocol"),
  ...faultTiming,
  offer: z
    .enum(LB_OFFERS, { error: `expected offer to be one of ${LB_OFFERS.join(", ")}` })
    .default("TLSv1.1")
    .describe("the only protocol version offered to new connections instead of TLSv1.2 and 1.3"),
});
export type TlsProtocolFault = z.infer<typeof tlsProtocolFaultSchema>;

const setting: MapSetting = {
  id: "tls-protocol-offers",
  prefix: "offer-",
  map: LB_OFFER_MAP,
  key: "offer",
  what: "an old TLS protocol version offered",
  undone: "TLSv1.2 and 1.3 offered again",
};

export const tlsProtocol: FaultKindModule<typeof tlsProtocolFaultSchema> = {
  kind: "tls-protocol",
  schema: tlsProtocolFaultSchema,
  summary:
    "offers only an old TLS version (`offer`, TLSv1.1 by default) where the PoP terminates TLS, so clients refuse it",
  scaffold: {
    target: "lb",
    lines: ["offer: TLSv1.1            # or TLSv1.0, TLSv1.2 (refused by clients requiring TLSv1.3)"],
  },
  disruptive: () => false,
  check: (_fault, service, topology) =>
    checkTlsTarget("an old TLS protocol version", service, topology, true),
  describe: (fault, service) => `offer only ${fault.offer} to new TLS connections on ${service}`,
  describeRevert: (_fault, service) => `offer TLSv1.2 and 1.3 on ${service} again`,
  async apply(fault, context) {
    const { ttl, revert } = await hold(setting, context, fault.offer);
    return {
      description: `only ${fault.offer} offered to new TLS connections on ${context.service} (TLSv1.2 and 1.3 again by themselves after ${formatDuration(ttl * 1000)})`,
      revert,
    };
  },
  async revertEntry(entry, replica: Replica) {
    return (await releaseEntry(setting, entry, replica.topology))
      ? `${entry.service} offers TLSv1.2 and 1.3 again`
      : "no old TLS protocol version was offered";
  },
  leftovers: [mapLeftovers(setting)],
};
