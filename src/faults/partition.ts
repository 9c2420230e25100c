import { z } from "zod";
import { InvalidInputError } from "../errors.js";
import { netfilterScope, onPort, type SidecarRules, startSidecar } from "../injectors/netfilter.js";
import { engine } from "../replica/engine.js";
import { containerName, type Topology } from "../replica/topology.js";
import type { FaultKindModule, InjectorContext } from "./fault-kind.js";
import { faultTiming } from "./fields.js";
import { netfilterLeftovers, revertSidecarEntry } from "./netfilter-kinds.js";

// A partition drops packets in the target's namespace: every packet except loopback (the
// target is cut off the replica network, while it keeps its address and DNS name, as in a
// real partition), or only those to and from one peer. A link is cut in Toxiproxy's
// namespace, on its port: packets dropped, connections hang.

export const partitionFaultSchema = z
  .strictObject({
    fault: z.literal("partition"),
    ...faultTiming,
    from: z
      .string()
      .min(1)
      .optional()
      .describe("cut the target off this one service only; default: off the whole network"),
  })
  .superRefine((fault, ctx) => {
    if (fault.target.kind === "name" && fault.from === fault.target.name)
      ctx.addIssue({ code: "custom", path: ["from"], message: "expected another service than the target" });
  });
export type PartitionFault = z.infer<typeof partitionFaultSchema>;

function check(fault: PartitionFault, service: string, topology: Topology): void {
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
}

function describe(fault: PartitionFault, service: string, topology: Topology): string {
  if (fault.from) return `partition ${service} from ${fault.from}`;
  return netfilterScope(topology, service).port !== undefined
    ? `cut link ${service} (packets dropped both ways)`
    : `cut ${service} off the network`;
}

async function rulesFor(
  fault: PartitionFault,
  context: InjectorContext,
  port: number | undefined,
): Promise<SidecarRules> {
  if (port !== undefined) return onPort({ ingress: ["-j DROP"], egress: ["-j DROP"] }, port);
  if (!fault.from) return { ingress: ["! -i lo -j DROP"], egress: ["! -o lo -j DROP"] };
  const { topology } = context.replica;
  const peer = await engine().inspectContainer(containerName(topology, fault.from));
  const ip = peer.NetworkSettings.Networks[topology.network]?.IPAddress;
  if (!ip) throw new InvalidInputError(`${fault.from} has no address on ${topology.network}`);
  return { ingress: [`-s ${ip} -j DROP`], egress: [`-d ${ip} -j DROP`] };
}

export const partition: FaultKindModule<typeof partitionFaultSchema> = {
  kind: "partition",
  schema: partitionFaultSchema,
  summary: "cuts the target off the network, or only `from` one peer",
  scaffold: {
    target: "edge-1",
    lines: ["# from: origin            # cut off from one service only (default: everything)"],
  },
  disruptive: () => true,
  check,
  describe,
  describeRevert: (_fault, service) =>
    `stop the netfilter sidecar of ${service}, which deletes its rule chain`,
  async apply(fault, context) {
    const scope = netfilterScope(context.replica.topology, context.service);
    const rules = await rulesFor(fault, context, scope.port);
    const sidecar = await startSidecar(context.replica, scope.service, context, rules, context.revertBy);
    return {
      description: describe(fault, context.service, context.replica.topology),
      details: { backend: sidecar.backend },
      revert: () => sidecar.stop(),
    };
  },
  revertEntry: revertSidecarEntry,
  leftovers: [netfilterLeftovers],
};
