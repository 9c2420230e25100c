import type { z } from "zod";
import { InvalidInputError } from "../errors.js";
import {
  REDIRECT_PREFIX,
  type ToxicStream,
  type ToxicType,
  ToxiproxyApi,
  toxicName,
} from "../injectors/toxiproxy.js";
import type { LedgerEntry } from "../lifecycle/ledger.js";
import type { Replica } from "../replica/replica.js";
import { linkTo, type Topology } from "../replica/topology.js";
import type { AppliedFault, FaultKindModule, InjectorContext, Leftovers } from "./fault-kind.js";

// What the kinds acting on a Toxiproxy link share: finding the link in front of a service,
// adding one toxic per direction, removing a fault's toxics from the ledger alone, and the
// sweep of every toxic named `faultline.*`. Every LB -> edge link and the edges -> origin
// link (and, with several PoPs, every ingress and uplink) is a Toxiproxy proxy.

export interface ToxicLinkFault {
  fault: string;
  direction: "downstream" | "upstream" | "both";
  share?: number | undefined;
}

/** The Toxiproxy link a fault on `service` acts on: the one in front of it, or a link by name. */
export function linkFor(service: string, topology: Topology, kind: string): string {
  if (topology.attach)
    throw new InvalidInputError(
      `the ${kind} fault needs a Toxiproxy link in front of ${service}, which attached stacks get in a later version`,
      { suggestion: "on an attached stack use node-kill, packet-loss, partition or stress" },
    );
  const link = linkTo(topology, service);
  if (!link) {
    const inFront = topology.links.filter((l) => l.upstream.service === service).map((l) => l.name);
    if (inFront.length > 1) {
      throw new InvalidInputError(
        `${service} has ${inFront.length} links in front of it; the ${kind} fault needs one`,
        { suggestion: `target one of its links: ${inFront.join(", ")}` },
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

/**
 * Every toxic Faultline left on the Toxiproxy server, found by its `faultline.` name, and
 * every proxy a transparent redirect left (`faultline.redirect.*`, src/injectors/redirect.ts).
 */
export const toxicLeftovers: Leftovers = {
  id: "toxiproxy-toxics",
  order: 1,
  async find(replica) {
    // An attached stack has no Toxiproxy of Faultline's: there can be no toxic to find.
    if (replica.topology.attach) return [];
    const api = new ToxiproxyApi(replica.endpoints.toxiproxy);
    const toxics = (await api.faultlineToxics()).map(({ proxy, toxic }) => `toxic ${toxic.name} on ${proxy}`);
    const redirects = (await api.proxyNames()).filter((p) => p.startsWith(REDIRECT_PREFIX));
    return [...toxics, ...redirects.map((p) => `redirect proxy ${p}`)];
  },
  async sweep({ replica, attempt, found }) {
    if (replica.topology.attach) return;
    await attempt("toxics", async () => {
      const api = new ToxiproxyApi(replica.endpoints.toxiproxy);
      for (const { proxy, toxic } of await api.faultlineToxics()) {
        await api.removeToxic(proxy, toxic.name);
        found({ kind: "toxic", target: proxy, what: toxic.name });
      }
      for (const proxy of (await api.proxyNames()).filter((p) => p.startsWith(REDIRECT_PREFIX))) {
        await api.removeProxy(proxy);
        found({ kind: "toxic", target: "toxiproxy", what: `redirect proxy ${proxy}` });
      }
    });
  },
};

/** Removes one ledger entry's toxics from the link in front of its service. */
export async function removeEntryToxics(entry: LedgerEntry, replica: Replica): Promise<string> {
  const link = linkTo(replica.topology, entry.service)?.name ?? entry.service;
  const api = new ToxiproxyApi(replica.endpoints.toxiproxy);
  const removed = await api.removeFaultToxics(link, entry.runId, entry.faultId);
  return `removed ${removed} toxic(s) from ${link}`;
}

function streams(direction: ToxicLinkFault["direction"]): ToxicStream[] {
  return direction === "both" ? ["downstream", "upstream"] : [direction];
}

/** Adds one toxic per direction of the fault; all of them, or none. */
async function addToxics<F extends ToxicLinkFault>(
  fault: F,
  context: InjectorContext,
  toxic: { type: ToxicType; attributes: Record<string, number> },
): Promise<() => Promise<void>> {
  const link = linkFor(context.service, context.replica.topology, fault.fault);
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
      await api.addToxic(link, { name, stream, toxicity: fault.share ?? 1, ...toxic });
      added.push(name);
    }
  } catch (error) {
    await revert().catch(() => {});
    throw error;
  }
  return revert;
}

/** What a Toxiproxy-link kind's module says of itself; the rest is shared. */
export interface ToxicKindSpec<S extends z.ZodType<ToxicLinkFault & { at: number; for: number }>> {
  schema: S;
  kind: z.output<S>["fault"];
  summary: string;
  scaffold: { target: string; lines: readonly string[] };
  type: ToxicType;
  disruptive: boolean;
  attributes(fault: z.output<S>): Record<string, number>;
  /** The effect, for `plan`: "latency 150ms ± 10ms". */
  effect(fault: z.output<S>): string;
}

/** A whole kind module for a fault that is one Toxiproxy toxic on a link. */
export function toxicKind<S extends z.ZodType<ToxicLinkFault & { at: number; for: number }>>(
  spec: ToxicKindSpec<S>,
): FaultKindModule<S> {
  type F = z.output<S>;
  const share = (fault: F) =>
    fault.share !== undefined && fault.share < 1 ? `, ${Math.round(fault.share * 100)}% of connections` : "";
  const describe = (fault: F, service: string) =>
    `${spec.effect(fault)} on link ${service} (${fault.direction}${share(fault)})`;
  return {
    kind: spec.kind,
    schema: spec.schema,
    summary: spec.summary,
    scaffold: spec.scaffold,
    disruptive: () => spec.disruptive,
    check: (_fault, service, topology) => void linkFor(service, topology, spec.kind),
    describe,
    describeRevert: (_fault, service) => `remove the ${spec.type} toxic(s) from Toxiproxy proxy ${service}`,
    async apply(fault, context): Promise<AppliedFault> {
      const revert = await addToxics(fault, context, { type: spec.type, attributes: spec.attributes(fault) });
      return { description: describe(fault, context.service), revert };
    },
    revertEntry: removeEntryToxics,
    leftovers: [toxicLeftovers],
  };
}
