import { InvalidInputError } from "../errors.js";
import type { Topology } from "./topology.js";

// Which link a link fault (latency, bandwidth, timeout, reset) acts on when its target is a
// service of an attached stack: the traffic into that service from its clients in the stack,
// as the built-in PoP's "link in front of a service" (the load balancer -> each edge; every
// edge -> the origin), on the one TCP port the target's container exposes unless the attach
// settings name it (`attach.ports`). Pure: checked at plan time and again before anything
// is touched.

export interface AttachedLink {
  /** The services whose new connections to the target are redirected through Toxiproxy. */
  clients: string[];
  /** The target's port; undefined before discovery (plan and validate). */
  port: number | undefined;
}

const named = (topology: Topology, role: string) =>
  topology.services.filter((s) => s.role === role).map((s) => s.name);

/** The services sending traffic into `service`, by role: lb -> each edge, every edge -> origin. */
export function attachedLinkClients(topology: Topology, service: string, kind: string): string[] {
  const role = topology.services.find((s) => s.name === service)?.role;
  const targets = [...topology.edges, ...named(topology, "origin")].join(", ");
  if (role === "edge") return named(topology, "lb");
  if (role === "origin") return [...topology.edges];
  throw new InvalidInputError(
    role === "lb"
      ? `the ${kind} fault acts on the traffic into ${service} from its clients in the stack; ${service} is the load balancer, whose clients are outside it`
      : `the ${kind} fault needs a service of the attached stack; "${service}" is none`,
    {
      suggestion: `target an edge or the origin (${targets}); the link from the load balancer or the edges into it is faulted`,
    },
  );
}

/**
 * The target's port: `attach.ports` wins, else the one TCP port its container exposes.
 * Undefined before discovery; several ports, or none, is bad input naming the setting.
 */
export function attachedLinkPort(topology: Topology, service: string): number | undefined {
  const attach = topology.attach;
  const override = attach?.ports?.[service];
  if (override !== undefined) return override;
  const exposed = attach?.exposed?.[service];
  if (!exposed || attach?.containers[service] === undefined) return undefined;
  const [only] = exposed;
  if (only !== undefined && exposed.length === 1) return only;
  throw new InvalidInputError(
    `${service}'s container exposes ${exposed.length === 0 ? "no TCP port" : `${exposed.length} TCP ports (${exposed.join(", ")})`}, so which of its connections a link fault acts on is ambiguous`,
    { suggestion: `name the port in the attach settings: replica.attach.ports: { ${service}: PORT }` },
  );
}

/**
 * The redirect matches the target's address on the stack's network (the load balancer's):
 * a client that can reach the target over another network too might bypass it, and the fault
 * would silently do nothing. Such a link is refused once discovery knows the networks.
 */
function checkOneNetwork(
  topology: Topology,
  service: string,
  clients: readonly string[],
  kind: string,
): void {
  const networks = topology.attach?.networks;
  if (!networks) return;
  const on = (s: string) => networks[s] ?? [];
  const shared = (client: string) => on(client).filter((n) => on(service).includes(n));
  const off = clients.filter((c) => shared(c).join() !== topology.network);
  if (off.length === 0) return;
  throw new InvalidInputError(
    `the ${kind} fault on ${service} redirects its clients' connections on network ${topology.network} alone; ${off.map((c) => `${c} and ${service} share ${shared(c).join(", ") || "no network"}`).join("; ")}`,
    {
      suggestion: `link faults on an attached stack need the target and its clients on the load balancer's network (${topology.network}); use packet-loss or partition on ${service} instead`,
    },
  );
}

/** All of the above: what a link fault on `service` of an attached stack acts on. */
export function attachedLink(topology: Topology, service: string, kind: string): AttachedLink {
  const clients = attachedLinkClients(topology, service, kind);
  checkOneNetwork(topology, service, clients, kind);
  return { clients, port: attachedLinkPort(topology, service) };
}
