import type { PacketLossFault } from "../experiments/schema.js";
import type { Topology } from "../replica/topology.js";
import type { AppliedFault, Injector, InjectorContext } from "./injector.js";
import { netfilterScope, onPort, type SidecarRules, startSidecar } from "./netfilter.js";

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

export const packetLossInjector: Injector<PacketLossFault> = {
  kind: "packet-loss",
  disruptive: (fault) => fault.loss >= 0.5,
  check(_fault, service, topology: Topology) {
    netfilterScope(topology, service);
  },
  describe(fault, service) {
    return `drop ${(fault.loss * 100).toFixed(1)}% of packets ${fault.direction === "both" ? "in and out of" : fault.direction === "ingress" ? "into" : "out of"} ${service}`;
  },
  describeRevert(_fault, service) {
    return `stop the netfilter sidecar of ${service}, which deletes its rule chain`;
  },
  async apply(fault, context: InjectorContext): Promise<AppliedFault> {
    // On a link, the loss hits that link's traffic in Toxiproxy's namespace (its port only).
    const scope = netfilterScope(context.replica.topology, context.service);
    const sidecar = await startSidecar(
      context.replica,
      scope.service,
      context,
      onPort(lossRules(fault), scope.port),
      context.revertBy,
    );
    return {
      description: this.describe(fault, context.service, context.replica.topology),
      details: { backend: sidecar.backend },
      revert: () => sidecar.stop(),
    };
  },
};
