import { InvalidInputError } from "../errors.js";
import type { BandwidthFault, LatencyFault, ResetFault, TimeoutFault } from "../experiments/schema.js";
import { linkTo, type Topology } from "../replica/topology.js";
import { formatDuration } from "../units.js";
import type { AppliedFault, Injector, InjectorContext } from "./injector.js";
import { type ToxicStream, type ToxicType, ToxiproxyApi, toxicName } from "./toxiproxy.js";

// The Toxiproxy family: faults on the TCP link in front of a service. Every LB -> edge link
// and the edges -> origin link pass through one Toxiproxy proxy named after the service.

type ToxicFault = LatencyFault | BandwidthFault | TimeoutFault | ResetFault;

interface ToxicSpec<F extends ToxicFault> {
  kind: F["fault"];
  type: ToxicType;
  attributes(fault: F): Record<string, number>;
  summary(fault: F): string;
  disruptive: boolean;
}

function streams(direction: ToxicFault["direction"]): ToxicStream[] {
  return direction === "both" ? ["downstream", "upstream"] : [direction];
}

export function linkFor(service: string, topology: Topology, kind: string): string {
  const link = linkTo(topology, service);
  if (!link) {
    const inFront = topology.links.filter((l) => l.upstream.service === service).map((l) => l.name);
    if (inFront.length > 1) {
      throw new InvalidInputError(
        `${service} has ${inFront.length} links in front of it; the ${kind} fault needs one`,
        {
          suggestion: `target one of its links: ${inFront.join(", ")}`,
        },
      );
    }
    const linked = [...new Set(topology.links.map((l) => l.upstream.service))];
    throw new InvalidInputError(`${service} has no Toxiproxy link for the ${kind} fault`, {
      suggestion: topology.pops
        ? `${kind} acts on the link in front of a service (${linked.join(", ")}) or on a link by name (${topology.links.map((l) => l.name).join(", ")})`
        : `${kind} acts on the link in front of a service: ${linked.join(", ")}`,
    });
  }
  if (link.proxied === false) {
    throw new InvalidInputError(
      `link ${link.name} bypasses Toxiproxy, so the ${kind} fault cannot act on it`,
      {
        suggestion: "remove it from links.direct in the topology file, or target another link",
      },
    );
  }
  return link.name;
}

function toxicInjector<F extends ToxicFault>(spec: ToxicSpec<F>): Injector<F> {
  const share = (fault: F) =>
    fault.share !== undefined && fault.share < 1 ? `, ${Math.round(fault.share * 100)}% of connections` : "";
  return {
    kind: spec.kind,
    disruptive: () => spec.disruptive,
    check(_fault, service, topology) {
      linkFor(service, topology, spec.kind);
    },
    describe(fault, service) {
      return `${spec.summary(fault)} on link ${service} (${fault.direction}${share(fault)})`;
    },
    describeRevert(_fault, service) {
      return `remove the ${spec.type} toxic(s) from Toxiproxy proxy ${service}`;
    },
    async apply(fault, context: InjectorContext): Promise<AppliedFault> {
      const link = linkFor(context.service, context.replica.topology, spec.kind);
      const api = new ToxiproxyApi(context.replica.endpoints.toxiproxy);
      const added: string[] = [];
      const revert = async () => {
        // Remove every toxic even when one removal fails, then report the first failure.
        const results = await Promise.allSettled(added.map((name) => api.removeToxic(link, name)));
        const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
        if (failed) throw failed.reason;
      };
      try {
        for (const stream of streams(fault.direction)) {
          const name = toxicName(context.runId, context.faultId, stream);
          await api.addToxic(link, {
            name,
            type: spec.type,
            stream,
            toxicity: fault.share ?? 1,
            attributes: spec.attributes(fault),
          });
          added.push(name);
        }
      } catch (error) {
        await revert().catch(() => {});
        throw error;
      }
      return { description: this.describe(fault, context.service, context.replica.topology), revert };
    },
  };
}

export const latencyInjector = toxicInjector<LatencyFault>({
  kind: "latency",
  type: "latency",
  disruptive: false,
  attributes: (f) => ({ latency: Math.round(f.latency), jitter: Math.round(f.jitter) }),
  summary: (f) => `latency ${formatDuration(f.latency)}${f.jitter ? ` ± ${formatDuration(f.jitter)}` : ""}`,
});

export const bandwidthInjector = toxicInjector<BandwidthFault>({
  kind: "bandwidth",
  type: "bandwidth",
  disruptive: false,
  // Toxiproxy's rate is in KB/s (1000 bytes) and limits each connection separately.
  attributes: (f) => ({ rate: Math.max(1, Math.round(f.rate / 1000)) }),
  summary: (f) => `bandwidth ${Math.round(f.rate / 1000)}KB/s per connection`,
});

export const timeoutInjector = toxicInjector<TimeoutFault>({
  kind: "timeout",
  type: "timeout",
  disruptive: true,
  attributes: (f) => ({ timeout: Math.round(f.after) }),
  summary: (f) =>
    f.after
      ? `timeout: connections closed after ${formatDuration(f.after)} without data`
      : "black hole: no data passes",
});

export const resetInjector = toxicInjector<ResetFault>({
  kind: "reset",
  type: "reset_peer",
  disruptive: true,
  attributes: (f) => ({ timeout: Math.round(f.after) }),
  summary: (f) => `connection resets${f.after ? ` after ${formatDuration(f.after)}` : ""}`,
});
