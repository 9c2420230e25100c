// The shape of a replica: which services exist, how they are linked, which links pass
// through Toxiproxy. The built-in default PoP is produced by defaultTopology().

export type Role = "lb" | "edge" | "origin" | "toxiproxy" | "prometheus";

export interface Link {
  /** Toxiproxy proxy name; also the name experiments use as a fault target. */
  name: string;
  /** Port the proxy listens on inside the toxiproxy container. */
  listenPort: number;
  /** Service and port the proxy forwards to. */
  upstream: { service: string; port: number };
  /** Who sends traffic through this link, for humans reading `replica status`. */
  from: string;
}

export interface Service {
  name: string;
  role: Role;
  image: string;
  /** Container ports published on 127.0.0.1 (random host port). */
  publish: number[];
}

export interface HealthCheck {
  intervalMs: number;
  /** How long one check may take; a node that accepts connections but never answers costs this much per check. */
  timeoutMs: number;
  fall: number;
  rise: number;
}

export interface Topology {
  replica: string;
  network: string;
  services: Service[];
  links: Link[];
  edges: string[];
  healthCheck: HealthCheck;
  /** HAProxy's balancing algorithm for the edges (default roundrobin). */
  balance?: "roundrobin" | "leastconn";
}

export const TOXIPROXY_API_PORT = 8474;
export const LB_HTTP_PORT = 80;
export const LB_STATS_PORT = 8405;
export const PROMETHEUS_PORT = 9090;
export const EDGE_LINK_BASE_PORT = 20000;
export const ORIGIN_LINK_PORT = 21000;
export const MAX_EDGES = 64;

export function imageFor(role: Role | "netfilter"): string {
  if (role === "toxiproxy" && process.env.FAULTLINE_TOXIPROXY_IMAGE)
    return process.env.FAULTLINE_TOXIPROXY_IMAGE;
  return `faultline/${role}:local`;
}

export function defaultTopology(replica = "default", edgeCount = 3): Topology {
  const edges = Array.from({ length: edgeCount }, (_, i) => `edge-${i + 1}`);
  return {
    replica,
    network: `faultline-${replica}`,
    edges,
    healthCheck: { intervalMs: 1000, timeoutMs: 2000, fall: 2, rise: 2 },
    services: [
      { name: "toxiproxy", role: "toxiproxy", image: imageFor("toxiproxy"), publish: [TOXIPROXY_API_PORT] },
      { name: "origin", role: "origin", image: imageFor("origin"), publish: [] },
      ...edges.map((name): Service => ({ name, role: "edge", image: imageFor("edge"), publish: [] })),
      { name: "lb", role: "lb", image: imageFor("lb"), publish: [LB_HTTP_PORT, LB_STATS_PORT] },
      { name: "prometheus", role: "prometheus", image: imageFor("prometheus"), publish: [PROMETHEUS_PORT] },
    ],
    links: [
      ...edges.map(
        (name, i): Link => ({
          name,
          listenPort: EDGE_LINK_BASE_PORT + i + 1,
          upstream: { service: name, port: 80 },
          from: "lb",
        }),
      ),
      {
        name: "origin",
        listenPort: ORIGIN_LINK_PORT,
        upstream: { service: "origin", port: 80 },
        from: "edges",
      },
    ],
  };
}

export function containerName(topology: Pick<Topology, "replica">, service: string): string {
  return `faultline-${topology.replica}-${service}`;
}

export function linkTo(topology: Topology, service: string): Link | undefined {
  return topology.links.find((l) => l.upstream.service === service);
}
