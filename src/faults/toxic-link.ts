import type { z } from "zod";
import { InvalidInputError } from "../errors.js";
import { startAttachedLink, stopAttachedLinkEntry } from "../injectors/attached-link.js";
import {
  REDIRECT_PREFIX,
  type ToxicStream,
  type ToxicType,
  ToxiproxyApi,
  toxicName,
} from "../injectors/toxiproxy.js";
import type { LedgerEntry } from "../lifecycle/ledger.js";
import { attachedLink } from "../replica/attach-links.js";
import { removeAttachToxiproxy } from "../replica/attach-toxiproxy.js";
import { ATTACH_TOXIPROXY_ROLE } from "../replica/docker.js";
import type { Replica } from "../replica/replica.js";
import { linkTo, type Topology } from "../replica/topology.js";
import type { AppliedFault, FaultKindModule, InjectorContext, Leftovers } from "./fault-kind.js";

// What the kinds acting on a Toxiproxy link share: finding the link in front of a service,
// adding one toxic per direction, removing a fault's toxics from the ledger alone, and the
// sweep of every toxic named `faultline.*`. Every LB -> edge link and the edges -> origin
// link (and, with several PoPs, every ingress and uplink) is a Toxiproxy proxy. On an attached
// stack the link into the target is a transparent redirect through Faultline's own Toxiproxy
// (src/injectors/attached-link.ts), and the toxics go on the redirect's proxy.

export interface ToxicLinkFault {
  fault: string;
  direction: "downstream" | "upstream" | "both";
  share?: number | undefined;
}

/**
 * The Toxiproxy link a fault on `service` acts on: the one in front of it, or a link by name.
 * On an attached stack: the service itself, once its clients and port are known to be clear.
 */
export function linkFor(service: string, topology: Topology, kind: string): string {
  if (topology.attach) {
    attachedLink(topology, service, kind);
    return service;
  }
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

/** Faultline's own Toxiproxy for an attached stack, when a crash left it (it also expires by itself). */
export const attachToxiproxyLeftovers: Leftovers = {
  id: "attach-toxiproxy",
  // After the netfilter sweep: no rule sends connections to it any more when it goes.
  order: 2,
  async find(_replica, containers) {
    return containers
      .filter((c) => c.role === ATTACH_TOXIPROXY_ROLE)
      .map((c) => `Faultline's Toxiproxy ${c.name}`);
  },
  async sweep({ replica, containers, attempt, found }) {
    for (const c of containers.filter((c) => c.role === ATTACH_TOXIPROXY_ROLE)) {
      await attempt(`Faultline's Toxiproxy ${c.name}`, async () => {
        if (await removeAttachToxiproxy(replica.topology))
          found({ kind: "container", target: "toxiproxy", what: `removed Faultline's Toxiproxy ${c.name}` });
      });
    }
  },
};

/** Removes one ledger entry's toxics from the link in front of its service. */
export async function removeEntryToxics(entry: LedgerEntry, replica: Replica): Promise<string> {
  if (replica.topology.attach) return stopAttachedLinkEntry(replica, entry);
  const link = linkTo(replica.topology, entry.service)?.name ?? entry.service;
  const api = new ToxiproxyApi(replica.endpoints.toxiproxy);
  const removed = await api.removeFaultToxics(link, entry.runId, entry.faultId);
  return `removed ${removed} toxic(s) from ${link}`;
}

function streams(direction: ToxicLinkFault["direction"]): ToxicStream[] {
  return direction === "both" ? ["downstream", "upstream"] : [direction];
}

/** Where a fault's toxics go: a proxy on a Toxiproxy, and what else its revert undoes. */
interface ToxicTarget {
  api: ToxiproxyApi;
  proxy: string;
  /** The attached stack's redirect: stopped after the toxics are removed. */
  release?: () => Promise<void>;
  details?: Record<string, string>;
}

async function toxicTarget(kind: string, context: InjectorContext): Promise<ToxicTarget> {
  const { replica, service } = context;
  if (!replica.topology.attach) {
    const proxy = linkFor(service, replica.topology, kind);
    return { api: new ToxiproxyApi(replica.endpoints.toxiproxy), proxy };
  }
  const path = await startAttachedLink(replica, service, context, context.revertBy, kind);
  const details = {
    link: `${path.clients.join(", ")} -> ${service}`,
    proxy: path.proxy,
    closedConnections: String(path.closed),
  };
  return { api: path.api, proxy: path.proxy, release: path.stop, details };
}

/** Adds one toxic per direction of the fault; all of them, or none. */
async function addToxics<F extends ToxicLinkFault>(
  fault: F,
  context: InjectorContext,
  toxic: { type: ToxicType; attributes: Record<string, number> },
): Promise<{ revert: () => Promise<void>; details?: Record<string, string> }> {
  const target = await toxicTarget(fault.fault, context);
  const { api, proxy: link } = target;
  const added: string[] = [];
  const revert = async () => {
    // Remove every toxic even when one removal fails, then report the first failure. Toxics
    // go first on a redirect too: should a client's rule outlive the revert, its connections
    // still reach the target, through a proxy that no longer delays or cuts them.
    const results = await Promise.allSettled(added.map((name) => api.removeToxic(link, name)));
    const released = await Promise.allSettled([target.release?.()]);
    const failed = [...results, ...released].find((r): r is PromiseRejectedResult => r.status === "rejected");
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
  return { revert, ...(target.details ? { details: target.details } : {}) };
}

/** "link edge-1", or on an attached stack "link lb -> edge-1" (the clients whose traffic is redirected). */
function linkLabel(service: string, topology: Topology): string {
  if (!topology.attach) return `link ${service}`;
  const clients = attachedLink(topology, service, "link").clients;
  return `link ${clients.length > 2 ? `${clients.length} ${topology.services.find((s) => s.name === clients[0])?.role ?? "client"}s` : clients.join(", ")} -> ${service}`;
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
  const describe = (fault: F, service: string, topology: Topology) =>
    `${spec.effect(fault)} on ${linkLabel(service, topology)} (${fault.direction}${share(fault)})`;
  return {
    kind: spec.kind,
    schema: spec.schema,
    summary: spec.summary,
    scaffold: spec.scaffold,
    disruptive: () => spec.disruptive,
    // On an attached stack each fault redirects the target's clients through a proxy of its
    // own: a second redirect of the same connections would take them from the first.
    exclusive: (topology) => (topology.attach ? "a transparent redirect of its clients" : undefined),
    check: (_fault, service, topology) => void linkFor(service, topology, spec.kind),
    describe,
    describeRevert: (_fault, service, topology) =>
      topology.attach
        ? `remove the redirect of ${linkLabel(service, topology).replace(/^link /, "")} and its proxy`
        : `remove the ${spec.type} toxic(s) from Toxiproxy proxy ${service}`,
    async apply(fault, context): Promise<AppliedFault> {
      const applied = await addToxics(fault, context, {
        type: spec.type,
        attributes: spec.attributes(fault),
      });
      return { description: describe(fault, context.service, context.replica.topology), ...applied };
    },
    revertEntry: removeEntryToxics,
    leftovers: [toxicLeftovers, attachToxiproxyLeftovers],
  };
}
