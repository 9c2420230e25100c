import { InvalidInputError } from "../errors.js";
import type { LatencyFault } from "../experiments/schema.js";
import type { Topology } from "../replica/topology.js";
import { formatDuration } from "../units.js";
import type { AppliedFault, Injector, InjectorContext } from "./injector.js";
import { type ToxicStream, ToxiproxyApi, toxicName } from "./toxiproxy.js";

function streams(direction: LatencyFault["direction"]): ToxicStream[] {
  return direction === "both" ? ["downstream", "upstream"] : [direction];
}

/** Latency (with jitter) on one Toxiproxy link, per direction. */
export const latencyInjector: Injector<LatencyFault> = {
  kind: "latency",

  check(fault, topology: Topology) {
    const links = topology.links.map((l) => l.name);
    if (!links.includes(fault.target)) {
      throw new InvalidInputError(`unknown link "${fault.target}" for the latency fault`, {
        suggestion: `use one of the replica's links: ${links.join(", ")}`,
      });
    }
  },

  describe(fault) {
    const jitter = fault.jitter ? ` ± ${formatDuration(fault.jitter)}` : "";
    return `latency ${formatDuration(fault.latency)}${jitter} on link ${fault.target} (${fault.direction})`;
  },

  async apply(fault, context: InjectorContext): Promise<AppliedFault> {
    const api = new ToxiproxyApi(context.replica.endpoints.toxiproxy);
    const added: { stream: ToxicStream; name: string }[] = [];
    const revert = async () => {
      // Remove every toxic, even when one removal fails, then report the first failure.
      const results = await Promise.allSettled(added.map((t) => api.removeToxic(fault.target, t.name)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
    };
    try {
      for (const stream of streams(fault.direction)) {
        const name = toxicName(context.runId, context.faultId, stream);
        await api.addToxic(fault.target, {
          name,
          type: "latency",
          stream,
          attributes: { latency: Math.round(fault.latency), jitter: Math.round(fault.jitter) },
        });
        added.push({ stream, name });
      }
    } catch (error) {
      await revert().catch(() => {});
      throw error;
    }
    return { description: this.describe(fault), revert };
  },
};
