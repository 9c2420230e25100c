import { InvalidInputError } from "../errors.js";

// The shape of a replica: which services exist, how they are linked, which links pass
// through Toxiproxy. The built-in default PoP is produced by defaultTopology().

export type Role =
  | "lb"
  | "edge"
  | "origin"
  | "shield"
  | "global"
  | "service"
  | "toxiproxy"
  | "prometheus"
  | "dns";

/**
 * The roles of the PoP's own services (what faults act on and `recover` restores); `service`
 * is one of the user's own (an app tier, a cache) that a topology file declares.
 */
/** A replica's own name (a topology's, an experiment's `replica:`): container and folder names are made of it. */
export const REPLICA_NAME = /^[a-z0-9][a-z0-9-]{0,30}$/;
export const REPLICA_NAME_RULE = "lowercase letters, digits and dashes, at most 31";

export const POP_ROLES: readonly Role[] = ["lb", "edge", "origin", "shield", "global", "service"];
/** The roles a fault may act on: the PoP's services, and the replica's DNS (DNS faults, or killing it). */
export const TARGET_ROLES: readonly Role[] = [...POP_ROLES, "dns"];
/** Every role of a replica's own services (not netfilter sidecars). */
export const SERVICE_ROLES: readonly Role[] = [...POP_ROLES, "toxiproxy", "prometheus", "dns"];

export interface Link {
  /** Toxiproxy proxy name; also the name experiments use as a fault target. */
  name: string;
  /** Port the proxy listens on inside the toxiproxy container. */
  listenPort: number;
  /** Service and port the proxy forwards to. */
  upstream: { service: string; port: number };
  /** Who sends traffic through this link, for humans reading `replica status`. */
  from: string;
  /**
   * False for a link the topology routes around Toxiproxy (`links.direct`): its clients
   * connect straight to the upstream, and no fault can act on it. Default true.
   */
  proxied?: boolean;
  /** A link a topology file declares (links.between): the services that connect through it. */
  clients?: string[];
}

/**
 * The user's own parts of a service, from a topology file (src/replica/own-parts.ts): paths
 * are absolute, the config is rendered (its placeholders filled in) when the file is loaded.
 */
export interface OwnParts {
  /** Set when Faultline builds `image` from the user's Dockerfile. */
  build?: { context: string; dockerfile: string };
  /** Set when the topology file names the image to run (`image:`); else Faultline's own, or the build's. */
  image?: true;
  /** The user's config, rendered, written to `at` in the container before it starts. */
  config?: { source: string; at: string; content: string };
  env?: Record<string, string>;
  command?: string[];
  /** The HTTP endpoint Faultline waits on before the replica counts as up. */
  health?: { path: string; port: number };
}

export interface Service {
  name: string;
  role: Role;
  image: string;
  /** Container ports published on 127.0.0.1 (random host port). */
  publish: number[];
  /** UDP ports published the same way (the replica's DNS). */
  publishUdp?: number[];
  /** An attached container's real Docker labels; Faultline's own containers get serviceLabels(). */
  labels?: Record<string, string>;
  /** The port it serves on (80 unless a topology file's service says otherwise). */
  port?: number;
  /** Its image, config, env, command or health endpoint, when the topology file gives them. */
  own?: OwnParts;
}

export interface HealthCheck {
  intervalMs: number;
  /** How long one check may take; a node that accepts connections but never answers costs this much per check. */
  timeoutMs: number;
  fall: number;
  rise: number;
}

/** One PoP of a multi-PoP replica: a load balancer in front of its own edges. */
export interface Pop {
  name: string;
  /** Service name of its load balancer (`<pop>-lb`). */
  lb: string;
  edges: string[];
  healthCheck: HealthCheck;
  balance: "roundrobin" | "leastconn";
  /** Link from its edges to the origin (or the shield): `<pop>-uplink`. */
  uplink: string;
  /** Link from the global traffic layer to its load balancer: `<pop>-ingress`. */
  ingress: string;
  /** The global layer's weight for it (weighted policy). */
  weight: number;
  /** primary-backup: true for a PoP that only serves when every primary is down. */
  backup: boolean;
  /** Its load balancer's stats page with the user's own config (as Topology.lbStats). */
  stats?: StatsPage | false;
}

/** The global traffic layer of a multi-PoP replica: steers clients to healthy PoPs. */
export interface GlobalLayer {
  service: string;
  policy: "primary-backup" | "weighted";
  /** How it checks each PoP (GET /pop-health on the PoP's load balancer). */
  healthCheck: HealthCheck;
  /** Its stats page with the user's own config (backend: the PoPs'), as Topology.lbStats. */
  stats?: StatsPage | false;
}

/**
 * An HAProxy stats page in the user's own config, on LB_STATS_PORT: its path and the backend
 * whose servers are what the load balancer judges (the edges; the global layer's PoPs).
 */
export interface StatsPage {
  path: string;
  backend: string;
}

/** A running stack Faultline attached to instead of creating it (src/replica/attach.ts). */
export interface AttachedStack {
  /** How its containers are found: a Compose project, or the opt-in label faultline.attach. */
  by: "compose" | "label";
  /** The project's name, or the label's value. */
  selector: string;
  /**
   * Service -> container id, as discovered: the only containers Faultline may touch. Empty
   * before discovery (what `plan` and `validate` check against).
   */
  containers: Record<string, string>;
  /** Service -> the TCP ports its container exposes, as discovered (empty before discovery). */
  exposed?: Record<string, number[]>;
  /** Service -> the networks its container is on, as discovered (link faults act on `network`). */
  networks?: Record<string, string[]>;
  /** Service -> the port link faults act on, from the settings (`attach.ports`). */
  ports?: Record<string, number>;
  /** The HAProxy backend whose servers are the edges, when the settings name a stats page. */
  statsBackend?: string;
  /** Serve the runs' series on the stack's network (src/replica/attach-series.ts), from the settings. */
  series?: { port?: number | undefined };
}

/**
 * Where the PoP terminates TLS (a topology file's `tls:`); the replica's CA signs its
 * certificates. At `lb`, HAProxy ends TLS; at `edges`, it passes port 443 through to the
 * edges (TCP), and each edge serves its own certificate.
 */
export interface TlsSettings {
  terminate: "lb" | "edges";
  /** TLS on the edge-to-origin hop too: the origin serves HTTPS, the edges verify it. */
  originPull?: boolean;
}

/**
 * The replica's own DNS (a topology file's `dns:`): a `dns` service serves the zone
 * faultline.test., and the edges resolve the origin through it, honouring its TTL.
 */
export interface DnsSettings {
  /** The TTL of every record, and how long resolvers may cache a negative answer. */
  ttlSeconds: number;
}

export interface Topology {
  replica: string;
  /** HTTPS at the PoP's entry point; undefined: the PoP serves plain HTTP only. */
  tls?: TlsSettings;
  /** DNS in the replica; undefined: services find each other through the engine's resolver. */
  dns?: DnsSettings;
  network: string;
  services: Service[];
  links: Link[];
  edges: string[];
  healthCheck: HealthCheck;
  /** HAProxy's balancing algorithm for the edges (default roundrobin). */
  balance?: "roundrobin" | "leastconn";
  /** Multi-PoP replicas: the PoPs (`edges` then lists every PoP's edges, in order). */
  pops?: Pop[];
  global?: GlobalLayer;
  /** Service name of the shield PoP between the PoPs and the origin, when there is one. */
  shield?: string;
  /** Set for a stack Faultline attached to: it owns none of its containers. */
  attach?: AttachedStack;
  /**
   * The load balancer's stats page with the user's own config: where it is (on
   * LB_STATS_PORT) and the backend of the edges; false when that config has none (the LB's
   * view of the edges is then not available). Undefined: Faultline's own config.
   */
  lbStats?: StatsPage | false;
}

export const TOXIPROXY_API_PORT = 8474;
export const LB_HTTP_PORT = 80;
export const LB_STATS_PORT = 8405;
/** The PoP's public name: TLS clients send it in SNI, its certificate is for it. */
export const POP_SERVER_NAME = "pop.faultline.test";
/** The load balancer's HTTPS port, with tls: { terminate: lb } (published on 127.0.0.1). */
export const LB_TLS_PORT = 443;
/** Where a load balancer that terminates TLS reads its certificate and key (one PEM file). */
export const LB_CERT_PATH = "/etc/faultline/tls/lb.pem";
/**
 * HAProxy's runtime API (admin level) in a load balancer with Faultline's config, on the
 * container's own loopback only: route and TLS faults set their maps (and certificates) there.
 */
export const LB_ADMIN_PORT = 9999;
/** With origin pull: the origin's HTTPS port, where its link forwards. */
export const ORIGIN_TLS_PORT = 443;
/** With origin pull: the origin's certificate and key (one PEM) and its TLS config, in the origin. */
export const ORIGIN_TLS_DIR = "/etc/faultline/tls";
export const ORIGIN_CERT_PATH = `${ORIGIN_TLS_DIR}/origin.pem`;
export const ORIGIN_TLS_CONF = `${ORIGIN_TLS_DIR}/origin-tls.conf`;
/** With origin pull: the replica's CA in each edge, which verifies the origin's certificate. */
export const EDGE_CA_PATH = "/etc/faultline/tls/ca.pem";
/** With tls: { terminate: edges }: each edge's HTTPS port (its link forwards there), its certificate and TLS config. */
export const EDGE_TLS_PORT = 443;
export const EDGE_TLS_DIR = "/etc/faultline/tls";
export const EDGE_CERT_PATH = `${EDGE_TLS_DIR}/edge.pem`;
export const EDGE_TLS_CONF = `${EDGE_TLS_DIR}/edge-tls.conf`;
/** With tls: { terminate: edges }: the replica's CA in the load balancer, which verifies the edges it re-encrypts to. */
export const LB_CA_PATH = "/etc/faultline/tls/ca.pem";
/** A tmpfs in a load balancer for what its faults keep there (gone on a restart). */
export const LB_RUN_DIR = "/run/faultline";
/**
 * Maps of such a load balancer's TCP front on 443 (empty at start, set through the runtime API
 * by TLS faults): the handshake delay in ms (key `delay`), the protocol version offered (key
 * `offer`, one of LB_OFFERS).
 */
export const LB_DELAY_MAP = "/etc/faultline/tls/handshake-delay.map";
export const LB_OFFER_MAP = "/etc/faultline/tls/offer.map";
/** The Lua action the TCP front sleeps in for the handshake delay. */
export const LB_LUA_PATH = "/etc/faultline/tls/handshake-delay.lua";
/**
 * Every load balancer with Faultline's config: the http-route fault's map (key `rule`, one
 * rule, empty at start; set through the runtime API), and Faultline's Lua there (the route
 * action and the series service).
 */
export const LB_ROUTE_MAP = "/etc/faultline/route.map";
export const LB_FAULTLINE_LUA = "/etc/faultline/faultline.lua";
/**
 * A run's series (fault windows, phase, checks) as the load balancer's monitoring port serves
 * them at SERIES_PATH: each run writes its own file in LB_SERIES_DIR; the served file is their
 * concatenation, each line prefixed with the epoch second it expires at.
 */
export const SERIES_PATH = "/faultline/metrics";
export const LB_SERIES_DIR = "/run/faultline/series.d";
export const LB_SERIES_FILE = "/run/faultline/series.prom";
/** The old protocol versions the TCP front can offer alone instead of TLSv1.2 and 1.3. */
export const LB_OFFERS = ["TLSv1.0", "TLSv1.1", "TLSv1.2"] as const;
export type LbOffer = (typeof LB_OFFERS)[number];
/**
 * Where Faultline's edge image (edges and the shield) reads a clock offset: libfaketime,
 * preloaded into every process there, follows /etc/faketimerc, a link to this file. The
 * folder is a tmpfs, so a restarted container has the real time again (docker/edge/Dockerfile).
 */
export const CLOCK_SKEW_DIR = "/run/faultline";
export const CLOCK_SKEW_FILE = `${CLOCK_SKEW_DIR}/faketime`;

/**
 * The http-route fault in an nginx of Faultline's images (edges, the shield, the origin): a
 * tmpfs for its rule and the files that hold it (gone on a restart), the rule file the hook
 * reads for every request, and where the origin's config includes the hook from.
 */
export const NGINX_RUN_DIR = "/run/faultline";
export const NGINX_ROUTE_RULE = `${NGINX_RUN_DIR}/route.rule`;
export const NGINX_ROUTE_CONF = "/etc/faultline/route/route.conf";

/** Whether a service is an nginx of Faultline's images with Faultline's config, which reads route rules. */
export function routesInNginx(topology: Topology, service: Service): boolean {
  return (
    !topology.attach &&
    ["edge", "shield", "origin"].includes(service.role) &&
    !service.own?.image &&
    !service.own?.build &&
    !service.own?.config &&
    !service.own?.command
  );
}

/** Whether a service runs Faultline's edge image, which can skew its clock: edges and the shield, not an image of the user's. */
export function hasSkewableClock(topology: Topology, service: Service): boolean {
  return (
    !topology.attach &&
    (service.role === "edge" || service.role === "shield") &&
    !service.own?.image &&
    !service.own?.build
  );
}
export const PROMETHEUS_PORT = 9090;
/** Where the replica's DNS answers (UDP and TCP), published on 127.0.0.1 for DNS probes. */
export const DNS_PORT = 53;
/** The replica's DNS service (topology `dns:`): its name, and `target: dns` means every client. */
export const DNS_SERVICE = "dns";
/** The TTL of the zone's records when the topology file gives none. */
export const DEFAULT_DNS_TTL_SECONDS = 5;
/** The zone the replica's DNS serves. */
export const DNS_ZONE = "faultline.test";
/** The name the edges pull from, with DNS in the replica: it resolves to the origin's link. */
export const ORIGIN_SERVER_NAME = `origin.${DNS_ZONE}`;
export const EDGE_LINK_BASE_PORT = 20000;
export const ORIGIN_LINK_PORT = 21000;
export const UPLINK_BASE_PORT = 21000;
export const INGRESS_BASE_PORT = 22000;
/** Links to the user's own services (a topology file's links.between). */
export const OWN_LINK_BASE_PORT = 23000;
/** Path on a PoP's load balancer answering 200 while it has an edge in rotation, else 503. */
export const POP_HEALTH_PATH = "/pop-health";
export const MAX_EDGES = 64;

export function imageFor(role: Role | "netfilter"): string {
  if (role === "shield") return imageFor("edge");
  if (role === "global") return imageFor("lb");
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

/**
 * The container of a service: Faultline's own (`faultline-<replica>-<service>`), or on an
 * attached stack the id discovery found. This is the one check every engine call on an
 * attached stack goes through: a service that is not in the discovered set is refused.
 */
export function containerName(topology: Pick<Topology, "replica" | "attach">, service: string): string {
  const { attach } = topology;
  if (!attach) return `faultline-${topology.replica}-${service}`;
  const id = attach.containers[service];
  if (id === undefined)
    throw new InvalidInputError(
      `${service} is not one of the containers Faultline attached to (${attach.by === "compose" ? "Compose project" : "label faultline.attach="}${attach.by === "compose" ? " " : ""}${attach.selector}); it touches no other container`,
      { suggestion: `its mapped services: ${Object.keys(attach.containers).join(", ") || "none"}` },
    );
  return id;
}

/**
 * The link a fault on `target` acts on: the link of that name, else the one link in front of
 * the service of that name. Undefined when there is none, or several (name one of them).
 */
export function linkTo(topology: Topology, target: string): Link | undefined {
  const named = topology.links.find((l) => l.name === target);
  if (named) return named;
  const inFront = topology.links.filter((l) => l.upstream.service === target);
  return inFront.length === 1 ? inFront[0] : undefined;
}

/** Where a link's clients connect: its Toxiproxy listener, or the upstream itself when direct. */
export function linkAddress(link: Link): string {
  return link.proxied === false
    ? `${link.upstream.service}:${link.upstream.port}`
    : `toxiproxy:${link.listenPort}`;
}

/** The PoP a service or link belongs to, in a multi-PoP replica. */
export function popOf(topology: Topology, serviceOrLink: string): Pop | undefined {
  return topology.pops?.find(
    (p) =>
      p.lb === serviceOrLink ||
      p.edges.includes(serviceOrLink) ||
      p.uplink === serviceOrLink ||
      p.ingress === serviceOrLink,
  );
}

/** The services whose load balancer judges them: one PoP's LB and edges. */
export interface PopView {
  name: string | undefined;
  lb: string;
  edges: string[];
  healthCheck: HealthCheck;
  balance: "roundrobin" | "leastconn";
}

/** Every PoP of a replica; a single-PoP replica is one unnamed PoP. */
export function popViews(topology: Topology): PopView[] {
  if (topology.pops) return topology.pops;
  return [
    {
      name: undefined,
      lb: topology.services.find((s) => s.role === "lb")?.name ?? "lb",
      edges: topology.edges,
      healthCheck: topology.healthCheck,
      balance: topology.balance ?? "roundrobin",
    },
  ];
}

export interface PopSpec {
  name: string;
  edges: string[];
  healthCheck: HealthCheck;
  balance: "roundrobin" | "leastconn";
  weight: number;
  backup: boolean;
  stats?: StatsPage | false;
}

export interface MultiPopSpec {
  pops: PopSpec[];
  global: { policy: GlobalLayer["policy"]; healthCheck: HealthCheck; stats?: StatsPage | false };
  /** Put a shield PoP (an nginx cache) between the PoPs and the origin. */
  shield: boolean;
  /** Links that bypass Toxiproxy. */
  direct: readonly string[];
}

/**
 * A multi-PoP replica: clients reach a global HAProxy that steers them to the PoPs' load
 * balancers by health; each PoP balances its own edges; the edges fetch from the origin, or
 * from a shield that does. Every link (global to PoP, PoP LB to edge, PoP to origin or
 * shield, shield to origin) crosses its own Toxiproxy proxy unless listed as direct.
 */
export function multiPopTopology(replica: string, spec: MultiPopSpec): Topology {
  const edges = spec.pops.flatMap((p) => p.edges);
  const shield = spec.shield ? "shield" : undefined;
  const pops: Pop[] = spec.pops.map((p) => ({
    ...p,
    lb: `${p.name}-lb`,
    uplink: `${p.name}-uplink`,
    ingress: `${p.name}-ingress`,
  }));
  const links: Link[] = [
    ...pops.map(
      (p, i): Link => ({
        name: p.ingress,
        listenPort: INGRESS_BASE_PORT + i + 1,
        upstream: { service: p.lb, port: LB_HTTP_PORT },
        from: "global",
      }),
    ),
    ...pops.flatMap((p) =>
      p.edges.map(
        (edge): Link => ({
          name: edge,
          listenPort: EDGE_LINK_BASE_PORT + edges.indexOf(edge) + 1,
          upstream: { service: edge, port: 80 },
          from: p.lb,
        }),
      ),
    ),
    ...pops.map(
      (p, i): Link => ({
        name: p.uplink,
        listenPort: UPLINK_BASE_PORT + i + 1,
        upstream: { service: shield ?? "origin", port: 80 },
        from: `edges of ${p.name}`,
      }),
    ),
    ...(shield
      ? [
          {
            name: "origin",
            listenPort: ORIGIN_LINK_PORT,
            upstream: { service: "origin", port: 80 },
            from: shield,
          },
        ]
      : []),
  ].map((l) => (spec.direct.includes(l.name) ? { ...l, proxied: false } : l));
  const first = pops[0];
  if (!first) throw new Error("a multi-PoP topology needs at least one PoP");
  return {
    replica,
    network: `faultline-${replica}`,
    edges,
    healthCheck: first.healthCheck,
    balance: first.balance,
    pops,
    global: { service: "global", ...spec.global },
    ...(shield ? { shield } : {}),
    services: [
      { name: "toxiproxy", role: "toxiproxy", image: imageFor("toxiproxy"), publish: [TOXIPROXY_API_PORT] },
      { name: "origin", role: "origin", image: imageFor("origin"), publish: [] },
      ...(shield ? [{ name: shield, role: "shield" as const, image: imageFor("edge"), publish: [] }] : []),
      ...edges.map((name): Service => ({ name, role: "edge", image: imageFor("edge"), publish: [] })),
      ...pops.map(
        (p): Service => ({ name: p.lb, role: "lb", image: imageFor("lb"), publish: [LB_STATS_PORT] }),
      ),
      { name: "global", role: "global", image: imageFor("lb"), publish: [LB_HTTP_PORT, LB_STATS_PORT] },
      { name: "prometheus", role: "prometheus", image: imageFor("prometheus"), publish: [PROMETHEUS_PORT] },
    ],
    links,
  };
}

/** The link names a topology has, for error messages. */
export const linkNames = (topology: Topology) => topology.links.map((l) => l.name);

/** The services that connect through a link (its clients: whose config names its address). */
export function linkClients(topology: Topology, link: Link): string[] {
  if (link.clients) return link.clients;
  const views = popViews(topology);
  const lbOf = views.find(
    (p) => p.edges.includes(link.upstream.service) && link.upstream.service === link.name,
  );
  if (lbOf) return [lbOf.lb];
  const pop = topology.pops?.find((p) => p.ingress === link.name || p.uplink === link.name);
  if (pop) return pop.ingress === link.name ? [topology.global?.service ?? "global"] : pop.edges;
  if (link.name === "origin") return topology.shield ? [topology.shield] : topology.edges;
  return [];
}

/**
 * The stats page of a load balancer service (a PoP's or the global layer): the user's own
 * config's, false when that config has none (its view is then not available), undefined for
 * Faultline's own config (at /stats) and for services that are no load balancer.
 */
export function statsPageOf(topology: Topology, service: string): StatsPage | false | undefined {
  if (topology.global?.service === service) return topology.global.stats;
  const pop = topology.pops?.find((p) => p.lb === service);
  if (pop) return pop.stats;
  return topology.services.find((s) => s.name === service)?.role === "lb" ? topology.lbStats : undefined;
}

/** The edges whose load balancer's view is available (its config has a stats page). */
export function judgedEdges(topology: Topology): string[] {
  return popViews(topology)
    .filter((p) => statsPageOf(topology, p.lb) !== false)
    .flatMap((p) => p.edges);
}
