import { z } from "zod";
import { share } from "../format/unit-schemas.js";
import { netfilterScope, onPort, type SidecarRules, startSidecar } from "../injectors/netfilter.js";
import type { FaultKindModule } from "./fault-kind.js";
import { faultTiming } from "./fields.js";
import { netfilterLeftovers, revertSidecarEntry } from "./netfilter-kinds.js";

// Packet loss in the target's network namespace: iptables `statistic --mode random` DROP in a
// netfilter sidecar's chain (egress through `tc netem` where the kernel has it). On a link,
// the loss hits that link's traffic in Toxiproxy's namespace, on its port only.

export const lossDirections = ["ingress", "egress", "both"] as const;

export const packetLossFaultSchema = z.strictObject({
  fault: z.literal("packet-loss"),
  ...faultTiming,
  loss: share.describe("share of packets dropped"),
  direction: z
    .enum(lossDirections, { error: `expected one of ${lossDirections.join(", ")}` })
    .default("both"),
});
export type PacketLossFault = z.infer<typeof packetLossFaultSchema>;

/** iptables rule specs dropping a random share of non-loopback packets. */
export function lossRules(fault: Pick<PacketLossFault, "loss" | "direction">): SidecarRules {
  const probability = fault.loss.toFixed(4);
  const drop = (iface: "-i" | "-o") =>
    `! ${iface} lo -m statistic --mode random --probability ${probability} -j DROP`;
  const ingress = fault.direction === "egress" ? [] : [drop("-i")];
  const egress = fault.direction === "ingress" ? [] : [drop("-o")];
  return {
    ingress,
    egress,
    // netem (where the kernel has it) drops egress packets at the qdisc; ingress stays iptables.
    ...(egress.length ? { netem: `loss ${(fault.loss * 100).toFixed(2)}%` } : {}),
  };
}

const describe = (fault: PacketLossFault, service: string) => {
  const where =
    fault.direction === "both" ? "in and out of" : fault.direction === "ingress" ? "into" : "out of";
  return `drop ${(fault.loss * 100).toFixed(1)}% of packets ${where} ${service}`;
};

export const packetLoss: FaultKindModule<typeof packetLossFaultSchema> = {
  kind: "packet-loss",
  schema: packetLossFaultSchema,
  summary: "drops `loss` percent of the target's packets (`ingress`, `egress`, both), with netem or iptables",
  scaffold: { target: "edge-2", lines: ["loss: 5%", "direction: both"] },
  // Half the packets lost or more: TCP barely gets through, the service is as good as out.
  disruptive: (fault) => fault.loss >= 0.5,
  check: (_fault, service, topology) => void netfilterScope(topology, service),
  describe,
  describeRevert: (_fault, service) =>
    `stop the netfilter sidecar of ${service}, which deletes its rule chain`,
  async apply(fault, context) {
    const scope = netfilterScope(context.replica.topology, context.service);
    const rules = onPort(lossRules(fault), scope.port);
    const sidecar = await startSidecar(context.replica, scope.service, context, rules, context.revertBy);
    return {
      description: describe(fault, context.service),
      details: { backend: sidecar.backend },
      revert: () => sidecar.stop(),
    };
  },
  revertEntry: revertSidecarEntry,
  leftovers: [netfilterLeftovers],
};
