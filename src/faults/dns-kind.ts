import { createHash } from "node:crypto";
import { z } from "zod";
import { InvalidInputError } from "../errors.js";
import { addRule, type DnsAction, listRules, RULE_PREFIX, removeRules } from "../injectors/dns.js";
import { deadManSeconds } from "../lifecycle/watchdog.js";
import { NAME_PATTERN, namesMatching, zoneRecords } from "../replica/dns-zone.js";
import { engine } from "../replica/engine.js";
import { execIn } from "../replica/exec.js";
import type { Replica } from "../replica/replica.js";
import {
  containerName,
  DNS_SERVICE,
  DNS_ZONE,
  ORIGIN_SERVER_NAME,
  type Topology,
} from "../replica/topology.js";
import { formatDuration } from "../units.js";
import type { FaultKindModule, InjectorContext, Leftovers } from "./fault-kind.js";
import { faultTiming } from "./fields.js";

// What the DNS kinds (dns-nxdomain.ts, dns-servfail.ts, ...) share: they act in the replica's
// DNS server (topology `dns:`, src/injectors/dns.ts), on the names a pattern matches, for the
// lookups of the target: one edge, each edge of a role or pick, or `dns` itself, which means
// every client's. Each kind module gives its own fields, its action and how plan says it.

export const dnsFields = {
  ...faultTiming,
  name: z
    .string({ error: `expected name: a name of the zone, such as ${ORIGIN_SERVER_NAME} or "*.${DNS_ZONE}"` })
    .toLowerCase()
    .regex(NAME_PATTERN, {
      message: `expected name to be a host name or a pattern with *, such as ${ORIGIN_SERVER_NAME} or "*.${DNS_ZONE}"`,
    })
    .describe("the names it acts on: a name of the zone, or a pattern with * (any run of letters, dots)"),
};

interface DnsFault {
  fault: string;
  name: string;
}

export interface DnsKindSpec<S extends z.ZodType<DnsFault>> {
  kind: z.output<S>["fault"];
  schema: S;
  summary: string;
  /** The kind's own scaffold lines (after `name:`). */
  lines?: readonly string[];
  /** What the server does, for plan: "answer NXDOMAIN". */
  effect(fault: z.output<S>): string;
  action(fault: z.output<S>, topology: Topology): DnsAction;
  /**
   * Whether the clients keep what the fault taught them after its rule is gone (an answer
   * cached for a longer TTL): its revert then reloads their nginx, which empties its resolver's
   * cache. Default: no.
   */
  outlivesRule?: boolean;
}

const ruleName = (runId: string, faultId: string) =>
  `${RULE_PREFIX}${createHash("sha1").update(`${runId}/${faultId}`).digest("hex").slice(0, 12)}`;

function dnsContainer(topology: Topology): string {
  return containerName(topology, DNS_SERVICE);
}

/** Whose lookups a target means: one client's address, or every client's (undefined). */
async function clientsOf(topology: Topology, service: string): Promise<string[] | undefined> {
  if (service === DNS_SERVICE) return undefined;
  const info = await engine().inspectContainer(containerName(topology, service));
  const ip = info.NetworkSettings.Networks[topology.network]?.IPAddress;
  if (!ip) throw new InvalidInputError(`${service} has no address on ${topology.network}`);
  return [ip];
}

function check(fault: DnsFault, service: string, topology: Topology): void {
  if (!topology.dns)
    throw new InvalidInputError(
      `a DNS fault on a replica without its own DNS: replica ${topology.replica} resolves names through the engine's resolver`,
      { suggestion: "run it on a replica whose topology file has dns: (topologies/dns.yaml)" },
    );
  const role = topology.services.find((s) => s.name === service)?.role;
  if (role !== "edge" && service !== DNS_SERVICE)
    throw new InvalidInputError(
      `a DNS fault acts on a client's lookups: ${service} resolves nothing through the replica's DNS`,
      {
        suggestion: `target an edge (edge-1), the edges (role: edge), or ${DNS_SERVICE} for every client's lookups`,
      },
    );
  if (namesMatching(topology, fault.name).length === 0)
    throw new InvalidInputError(`a DNS fault on a name the zone does not have: ${fault.name}`, {
      suggestion: `the zone's names: ${zoneRecords(topology)
        .map((r) => r.name)
        .join(", ")} (or a pattern such as "*.${DNS_ZONE}")`,
    });
}

/** The edges whose lookups a target means: that edge, or every edge for `dns`. */
function clientEdges(topology: Topology, service: string): string[] {
  return service === DNS_SERVICE ? topology.edges : [service];
}

/**
 * Reloads the clients' nginx, which starts workers with an empty resolver cache: what a fault
 * taught them (a long TTL) is forgotten. A client that is not running (a node-kill) is skipped.
 */
export async function forgetAnswers(topology: Topology, edges: readonly string[]): Promise<void> {
  await Promise.all(
    edges.map((edge) =>
      execIn(containerName(topology, edge), ["nginx", "-s", "reload"]).catch(() => undefined),
    ),
  );
}

const whose = (service: string) => (service === DNS_SERVICE ? "every client's" : `${service}'s`);

/** Faultline's rules in a replica's DNS server, whoever added them. */
const dnsRules: Leftovers = {
  id: "dns-rules",
  order: 1,
  async find(replica, containers) {
    if (!replica.topology.dns) return [];
    const dns = containers.find((c) => c.role === "dns" && c.state === "running");
    if (!dns) return [];
    return (await listRules(dns.name)).map((name) => `DNS rule ${name} in ${dns.service}`);
  },
  async sweep({ replica, containers, attempt, found }) {
    if (!replica.topology.dns) return;
    const dns = containers.find((c) => c.role === "dns" && c.state === "running");
    if (!dns) return;
    await attempt(`the rules of ${dns.service}`, async () => {
      const removed = await removeRules(dns.name, await listRules(dns.name));
      for (const name of removed)
        found({ kind: "config", target: dns.service, what: `DNS rule ${name} removed` });
      // Whatever those rules were, the edges forget the answers they got from them.
      if (removed.length) await forgetAnswers(replica.topology, replica.topology.edges);
    });
  },
};

/** A DNS kind's module from what is its own. */
export function dnsKind<S extends z.ZodType<DnsFault>>(spec: DnsKindSpec<S>): FaultKindModule<S> {
  type F = z.output<S>;
  const describe = (fault: F, service: string) =>
    `${spec.effect(fault)} to ${whose(service)} lookups of ${fault.name}`;
  return {
    kind: spec.kind,
    schema: spec.schema,
    summary: spec.summary,
    scaffold: { target: "edge-1", lines: [`name: ${ORIGIN_SERVER_NAME}`, ...(spec.lines ?? [])] },
    disruptive: () => false,
    check,
    describe,
    describeRevert: (fault, service) => `answer ${whose(service)} lookups of ${fault.name} as the zone says`,
    async apply(fault: F, context: InjectorContext) {
      const { topology } = context.replica;
      const container = dnsContainer(topology);
      const name = ruleName(context.runId, context.faultId);
      const ttl = deadManSeconds(context.revertBy);
      const clients = await clientsOf(topology, context.service);
      const action = spec.action(fault, topology);
      const deadline = Math.ceil(Date.now() / 1000) + ttl;
      const revert = async () => {
        const removed = await removeRules(container, [name]);
        if (removed.length && spec.outlivesRule)
          await forgetAnswers(topology, clientEdges(topology, context.service));
      };
      try {
        await addRule(container, {
          name,
          pattern: fault.name,
          ...(clients ? { clients } : {}),
          action,
          deadline,
        });
      } catch (error) {
        await revert().catch(() => {});
        throw error;
      }
      return {
        description: `${describe(fault, context.service)} (rule ${name}; dnsdist removes it by itself after ${formatDuration(ttl * 1000)})`,
        details: { rule: name },
        revert,
      };
    },
    async revertEntry(entry, replica: Replica) {
      const name = ruleName(entry.runId, entry.faultId);
      const removed = await removeRules(dnsContainer(replica.topology), [name]);
      if (removed.length && spec.outlivesRule)
        await forgetAnswers(replica.topology, clientEdges(replica.topology, entry.service));
      return removed.length ? `DNS rule ${name} removed` : `no DNS rule ${name} was there`;
    },
    leftovers: [dnsRules],
  };
}
