import { InvalidInputError } from "../errors.js";
import type { PartitionFault } from "../experiments/schema.js";
import { docker } from "../replica/docker.js";
import { containerName, type Topology } from "../replica/topology.js";
import type { AppliedFault, Injector, InjectorContext } from "./injector.js";
import { netfilterScope, onPort, type SidecarRules, startSidecar } from "./netfilter.js";

// A partition drops packets in the target's namespace: every packet except loopback (the
// target is cut off the replica network, while it keeps its address and DNS name, as in a
// real partition), or only those to and from one peer.

export const partitionInjector: Injector<PartitionFault> = {
  kind: "partition",
  disruptive: () => true,
  check(fault, service, topology: Topology) {
    const scope = netfilterScope(topology, service);
    if (scope.port !== undefined && fault.from !== undefined) {
      throw new InvalidInputError(`partition of link ${service} takes no \`from\`: the link itself is cut`, {
        suggestion: "drop `from`, or target a service",
      });
    }
    const names = topology.services.map((s) => s.name);
    if (fault.from !== undefined && !names.includes(fault.from)) {
      throw new InvalidInputError(`partition from "${fault.from}": no such service`, {
        suggestion: `use one of: ${names.filter((n) => n !== service).join(", ")}`,
      });
    }
    if (fault.from === service) throw new InvalidInputError(`cannot partition ${service} from itself`);
  },
  describe(fault, service, topology) {
    if (fault.from) return `partition ${service} from ${fault.from}`;
    return netfilterScope(topology, service).port !== undefined
      ? `cut link ${service} (packets dropped both ways)`
      : `cut ${service} off the network`;
  },
  describeRevert(_fault, service) {
    return `stop the netfilter sidecar of ${service}, which deletes its rule chain`;
  },
  async apply(fault, context: InjectorContext): Promise<AppliedFault> {
    let rules: SidecarRules;
    // A link is cut in Toxiproxy's namespace, on its port: packets dropped, connections hang.
    const scope = netfilterScope(context.replica.topology, context.service);
    if (scope.port !== undefined) {
      rules = onPort({ ingress: ["-j DROP"], egress: ["-j DROP"] }, scope.port);
    } else if (fault.from) {
      const peer = await docker().getContainer(containerName(context.replica.topology, fault.from)).inspect();
      const ip = peer.NetworkSettings.Networks[context.replica.topology.network]?.IPAddress;
      if (!ip)
        throw new InvalidInputError(`${fault.from} has no address on ${context.replica.topology.network}`);
      rules = { ingress: [`-s ${ip} -j DROP`], egress: [`-d ${ip} -j DROP`] };
    } else {
      rules = { ingress: ["! -i lo -j DROP"], egress: ["! -o lo -j DROP"] };
    }
    const sidecar = await startSidecar(context.replica, scope.service, context, rules, context.revertBy);
    return {
      description: this.describe(fault, context.service, context.replica.topology),
      details: { backend: sidecar.backend },
      revert: () => sidecar.stop(),
    };
  },
};
