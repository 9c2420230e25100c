import { setTimeout as sleep } from "node:timers/promises";
import { Toxiproxy } from "toxiproxy-node-client";
import { EnvironmentError, errorMessage, InvalidInputError } from "../errors.js";
import { clearEntry, readLedger } from "../lifecycle/ledger.js";
import { readLock } from "../lifecycle/lock.js";
import { freeLoopbackPort } from "../lifecycle/ports.js";
import { isAlive } from "../lifecycle/state.js";
import { waitUntil } from "../lifecycle/wait.js";
import { formatDuration } from "../units.js";
import { type AttachSettings, discoverStack, isAttachedStack, readAttachRecord } from "./attach.js";
import { findAttachToxiproxy } from "./attach-toxiproxy.js";
import {
  combinedPem,
  edgeCertificateNames,
  issueCertificate,
  originCertificateNames,
  popCertificateNames,
  replicaAuthority,
} from "./certificates.js";
import {
  edgeConfig,
  edgeDnsUpstream,
  edgeOriginTls,
  edgeStartCommand,
  edgeTlsConfig,
  edgeUpstream,
  globalLbConfig,
  HANDSHAKE_DELAY_LUA,
  originStartCommand,
  originTlsConfig,
  popLbConfig,
  prometheusConfig,
  shieldConfig,
  toxiproxyProxies,
} from "./configs.js";
import { dnsZoneSpec } from "./dns-zone.js";
import {
  ensureEngine,
  isConflict,
  isForbidden,
  isNotFound,
  isNotModified,
  LABEL_REPLICA,
  LABEL_ROLE,
  LABEL_SERVICE,
  labelFilter,
  serviceLabels,
} from "./docker.js";
import { BuildError, type DockerEngine, engine } from "./engine.js";
import { LB_LUA } from "./lb-lua.js";
import { ownFingerprint } from "./own-parts.js";
import { NGINX_ROUTE_HOOK } from "./route-lua.js";
import {
  CLOCK_SKEW_DIR,
  containerName,
  DNS_PORT,
  DNS_SERVICE,
  defaultTopology,
  EDGE_CA_PATH,
  EDGE_CERT_PATH,
  EDGE_TLS_CONF,
  hasSkewableClock,
  judgedEdges,
  LB_CA_PATH,
  LB_CERT_PATH,
  LB_DELAY_MAP,
  LB_FAULTLINE_LUA,
  LB_HTTP_PORT,
  LB_LUA_PATH,
  LB_OFFER_MAP,
  LB_ROUTE_MAP,
  LB_RUN_DIR,
  LB_STATS_PORT,
  LB_TLS_PORT,
  linkAddress,
  linkTo,
  MAX_EDGES,
  NGINX_ROUTE_CONF,
  NGINX_RUN_DIR,
  ORIGIN_CERT_PATH,
  ORIGIN_TLS_CONF,
  PROMETHEUS_PORT,
  popViews,
  routesInNginx,
  SERVICE_ROLES,
  type Service,
  statsPageOf,
  TOXIPROXY_API_PORT,
  type Topology,
} from "./topology.js";

const LABEL_TOPOLOGY = "faultline.topology";

export interface Endpoints {
  /** Where clients reach the PoP (HAProxy's frontend; the global layer's with several PoPs), on 127.0.0.1. */
  lb: string;
  /** HAProxy's stats page and Prometheus exporter (the global layer's with several PoPs). */
  lbStats: string;
  /** Multi-PoP replicas: each PoP's load balancer stats page. */
  pops?: Record<string, { lbStats: string; lbStatsCsv?: string }>;
  /** The stats CSV's own URL where it is not `<lbStats>/stats;csv` (an attached stack's HAProxy). */
  lbStatsCsv?: string;
  toxiproxy: string;
  prometheus: string;
  /** The PoP's HTTPS entry point (`host:port` on 127.0.0.1), when its topology has tls. */
  lbTls?: string;
  /** The replica's DNS (`host:port` on 127.0.0.1, UDP), when its topology has dns. */
  dns?: string;
  /** The health endpoints a topology file gives (service -> URL on 127.0.0.1), which `up` waits on. */
  health?: Record<string, string>;
}

export interface Replica {
  topology: Topology;
  endpoints: Endpoints;
}

export type EdgeState = "up" | "down" | "going-down" | "going-up" | "maintenance" | "unknown";

export interface ServiceStatus {
  service: string;
  role: string;
  container: string;
  state: string;
  /** For edges: what the load balancer's health checks say. */
  lbState?: EdgeState;
}

export interface ReplicaStatus {
  replica: string;
  exists: boolean;
  services: ServiceStatus[];
  endpoints?: Endpoints;
}

export interface UpOptions {
  replica?: string;
  edges?: number;
  /** The replica's shape (a topology file); its name and edges win over `replica` and `edges`. */
  topology?: Topology;
  timeoutMs?: number;
  onProgress?: (message: string) => void;
  signal?: AbortSignal;
}

export interface UpResult {
  replica: Replica;
  created: boolean;
  tookMs: number;
}

async function listContainers(client: DockerEngine, replica: string) {
  return client.listContainers({ all: true, filters: labelFilter(replica) });
}

/** What a replica's shape is judged on when an existing one is reused. */
function shapeOf(topology: Topology): string {
  const check = ({ intervalMs, timeoutMs, fall, rise }: Topology["healthCheck"]) =>
    `checks every ${intervalMs}ms, timeout ${timeoutMs}ms, fall ${fall}, rise ${rise}`;
  const pops = popViews(topology).map((p) => {
    const pop = topology.pops?.find((x) => x.name === p.name);
    const steering = pop ? `; weight ${pop.weight}${pop.backup ? ", backup" : ""}` : "";
    return `${p.name ? `${p.name}: ` : ""}edges ${p.edges.join(", ")}; ${check(p.healthCheck)}; ${p.balance}${steering}`;
  });
  const global = topology.global
    ? [`global ${topology.global.policy}, ${check(topology.global.healthCheck)}`]
    : [];
  const direct = topology.links.filter((l) => l.proxied === false).map((l) => l.name);
  const own = topology.services
    .filter((s) => s.own || s.role === "service")
    .map((s) => `${s.name} ${s.image} ${ownFingerprint(s.own)}`.trim());
  const between = topology.links
    .filter((l) => l.clients)
    .map((l) => `${l.name} (${l.from} -> ${l.upstream.service})`);
  return [
    ...pops,
    ...global,
    ...(topology.shield ? ["shield"] : []),
    ...(topology.tls ? [`tls at ${topology.tls.terminate}`] : []),
    ...(topology.dns ? [`dns ttl ${topology.dns.ttlSeconds}s`] : []),
    ...(direct.length ? [`direct ${direct.join(", ")}`] : []),
    ...(own.length ? [`own ${own.join(", ")}`] : []),
    ...(between.length ? [`links ${between.join(", ")}`] : []),
  ].join(" | ");
}

/**
 * Brings a replica up, or reuses it when it is already running with the same shape. Returns
 * when every edge is UP behind the load balancer. On failure everything this call created is
 * removed before the error is rethrown.
 */
export async function replicaUp(options: UpOptions = {}): Promise<UpResult> {
  const name = options.topology?.replica ?? options.replica ?? "default";
  const edgeCount = options.topology?.edges.length ?? options.edges ?? 3;
  if (!Number.isInteger(edgeCount) || edgeCount < 1 || edgeCount > MAX_EDGES) {
    throw new InvalidInputError(`--edges must be a whole number from 1 to ${MAX_EDGES}, got ${edgeCount}`);
  }
  if (!/^[a-z0-9][a-z0-9-]{0,30}$/.test(name)) {
    throw new InvalidInputError(
      `replica name "${name}" must be lowercase letters, digits and dashes (at most 31)`,
    );
  }
  const progress = options.onProgress ?? (() => {});
  const started = Date.now();
  const client = engine();
  await ensureEngine(client);
  const timeoutMs = options.timeoutMs ?? 120_000;

  const existing = await listContainers(client, name);
  if (ownsNoService(existing)) await refuseAttached(name, "up");
  if (existing.length > 0) {
    const current = await connectReplica(name).catch(() => undefined);
    const own: readonly string[] = SERVICE_ROLES;
    const pop = existing.filter((c) => own.includes(c.Labels[LABEL_ROLE] ?? ""));
    const complete = current !== undefined && pop.length === current.topology.services.length;
    const notRunning = pop.filter((c) => c.State !== "running");
    if (complete && notRunning.length > 0) {
      // Stopped or paused services are what a crashed run leaves: recreating the replica
      // would hide that. `recover` brings them back (and reverts the rest).
      throw new EnvironmentError(
        `replica ${name} has services that are not running: ${notRunning.map((c) => `${c.Labels[LABEL_SERVICE]} (${c.State})`).join(", ")}`,
        {
          suggestion: `run \`faultline recover${name === "default" ? "" : ` --replica ${name}`}\` (or \`faultline replica down\` to start afresh)`,
        },
      );
    }
    const wanted = options.topology;
    const sameShape = current
      ? wanted
        ? shapeOf(current.topology) === shapeOf(wanted)
        : current.topology.edges.length === edgeCount
      : false;
    if (current && complete && sameShape) {
      progress(`replica ${name} exists; waiting for its edges to be healthy`);
      await waitForEdges(current, timeoutMs, progress, options.signal);
      return { replica: current, created: false, tookMs: Date.now() - started };
    }
    if (current && !sameShape) {
      throw new InvalidInputError(
        wanted
          ? `replica ${name} is up with another shape than the topology asks for (up: ${shapeOf(current.topology)}. asked: ${shapeOf(wanted)})`
          : `replica ${name} is up with ${current.topology.edges.length} edges, not ${edgeCount}`,
        {
          suggestion: `run \`faultline replica down --replica ${name}\` first${wanted ? "" : ", or drop --edges"}`,
        },
      );
    }
    progress(`replica ${name} is incomplete or stopped; recreating it`);
    await replicaDown(name);
  }

  const topology = options.topology ?? defaultTopology(name, edgeCount);
  // The user's images are there (or built) before anything is created: a bad one starts nothing.
  await prepareOwnImages(client, topology, progress, options.signal);
  try {
    await createReplica(client, topology, progress);
    const replica = await connectReplica(name);
    await waitForEdges(replica, timeoutMs, progress, options.signal);
    return { replica, created: true, tookMs: Date.now() - started };
  } catch (error) {
    progress(`bringing replica ${name} up failed; removing what was created`);
    await replicaDown(name).catch(() => {});
    throw error;
  }
}

async function createReplica(
  client: DockerEngine,
  topology: Topology,
  progress: (m: string) => void,
): Promise<void> {
  progress(`creating network ${topology.network}`);
  await client.createNetwork({
    Name: topology.network,
    Driver: "bridge",
    CheckDuplicate: true,
    Labels: { [LABEL_REPLICA]: topology.replica, [LABEL_ROLE]: "network" },
  });

  const toxiproxy = topology.services.find((s) => s.role === "toxiproxy");
  if (!toxiproxy) throw new Error("topology has no toxiproxy service");

  // The replica's CA made once, before services that start together each ask for it.
  if (topology.tls) await replicaAuthority(topology.replica);
  // Toxiproxy first: every other service resolves and connects through it.
  await startService(client, topology, toxiproxy);
  await populateToxiproxy(client, topology, progress);
  await startInWaves(
    topology.services.filter((s) => s.role !== "toxiproxy"),
    async (service) => {
      await startService(client, topology, service);
      progress(`started ${service.name}`);
    },
  );
}

/** Waits for a (re)started Toxiproxy's API, then creates every link's proxy. */
async function populateToxiproxy(
  client: DockerEngine,
  topology: Topology,
  progress: (m: string) => void,
): Promise<void> {
  const endpoints = await readEndpoints(client, topology);
  const api = new Toxiproxy(endpoints.toxiproxy);
  await waitUntil(
    async () => {
      await api.getVersion();
      return { done: true, value: undefined };
    },
    { description: "the Toxiproxy API", timeoutMs: 20_000 },
  );
  const proxies = toxiproxyProxies(topology);
  await api.populate(proxies);
  progress(`toxiproxy: ${proxies.length} proxies (${proxies.map((p) => p.name).join(", ")})`);
}

/**
 * Starts services in waves, each at once, each a settled whole before a failure is reported
 * (so `replicaDown` sees every container): the origin; the shield; then everything else.
 * An edge or shield whose link bypasses Toxiproxy names its upstream in its nginx config,
 * which must resolve when nginx starts. HAProxy's checks tolerate edges that are still
 * starting. (Starting the load balancers only once the edges listen spares them a failed
 * first check, but measured slower on 2 vCPUs: the extra wave costs more than the rise.)
 */
async function startInWaves(services: Service[], start: (service: Service) => Promise<void>): Promise<void> {
  // The edges' nginx resolves the name of its DNS server when it starts: the DNS comes first.
  const upstreams = new Set<string>(["origin", "shield", "dns"]);
  for (const wave of [
    services.filter((s) => s.role === "origin" || s.role === "dns"),
    services.filter((s) => s.role === "shield"),
    services.filter((s) => !upstreams.has(s.role)),
  ]) {
    if (wave.length === 0) continue;
    const results = await Promise.allSettled(wave.map(start));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }
}

/**
 * Starts a replica's stopped service containers, as a restart of the Docker engine leaves
 * them (every container exited): Toxiproxy first, with its proxies created again (it keeps
 * them in memory only), then the rest in waves. Paused containers are left alone: only a
 * fault pauses one, and `recover` reverts faults. Returns the services it started.
 */
export async function reviveReplica(
  name: string,
  progress: (m: string) => void = () => {},
): Promise<string[]> {
  const client = engine();
  await ensureEngine(client);
  const containers = await listContainers(client, name);
  const raw = containers.find((c) => c.Labels[LABEL_ROLE] === "toxiproxy")?.Labels[LABEL_TOPOLOGY];
  if (!raw) return [];
  const topology = JSON.parse(raw) as Topology;
  const stateOf = (service: string) =>
    containers.find((c) => c.Labels[LABEL_SERVICE] === service && c.Labels[LABEL_ROLE] !== "netfilter")
      ?.State;
  const stopped = topology.services.filter((s) =>
    ["exited", "created", "dead"].includes(stateOf(s.name) ?? ""),
  );
  const start = async (service: Service) => {
    // A watchdog reverting a node-kill may start the same container at the same moment.
    await client.startContainer(containerName(topology, service.name)).catch((error: unknown) => {
      if (!isNotModified(error)) throw error;
    });
    progress(`started ${service.name} (it was ${stateOf(service.name)})`);
  };
  const toxiproxy = stopped.find((s) => s.role === "toxiproxy");
  if (toxiproxy) {
    await start(toxiproxy);
    await populateToxiproxy(client, topology, progress);
    // nginx resolves Toxiproxy's name once, when it starts or reloads: edges and shields that
    // kept running would still send to its old address.
    const running = topology.services.filter(
      (s) => (s.role === "edge" || s.role === "shield") && stateOf(s.name) === "running",
    );
    await Promise.all(
      running.map(async (s) => {
        // An image of the user's may have no nginx: it then resolves Toxiproxy as it does.
        const reloaded = await client
          .exec(containerName(topology, s.name), ["nginx", "-s", "reload"])
          .catch(() => undefined);
        progress(
          `${reloaded?.exitCode === 0 ? "reloaded" : "could not reload"} ${s.name} (Toxiproxy restarted)`,
        );
      }),
    );
  }
  await startInWaves(
    stopped.filter((s) => s.role !== "toxiproxy"),
    start,
  );
  // nginx resolves its resolver's name when it starts: edges that kept running while the DNS
  // came back (perhaps with another address) would ask the old one.
  if (stopped.some((s) => s.role === "dns")) {
    const running = topology.services.filter((s) => s.role === "edge" && stateOf(s.name) === "running");
    await Promise.all(
      running.map((s) =>
        client.exec(containerName(topology, s.name), ["nginx", "-s", "reload"]).catch(() => undefined),
      ),
    );
  }
  return stopped.map((s) => s.name);
}

/** The service's environment: Faultline's config (unless it runs the user's) and the user's env. */
function envFor(topology: Topology, service: Service): string[] {
  const user = Object.entries(service.own?.env ?? {}).map(([k, v]) => `${k}=${v}`);
  // With the user's config, the entrypoint of Faultline's images must not write its own.
  if (service.own?.config) return ["FAULTLINE_CONFIG_PATH=", ...user];
  return [...faultlineEnv(topology, service), ...user];
}

function faultlineEnv(topology: Topology, service: Service): string[] {
  switch (service.role) {
    case "edge": {
      const dns = edgeDnsUpstream(topology);
      const originTls = edgeOriginTls(topology);
      const via = {
        ...(dns ?? { upstream: edgeUpstream(topology, service.name) }),
        ...(originTls ? { originTls } : {}),
      };
      const config = edgeConfig(
        service.name,
        via,
        topology.tls?.terminate === "edges",
        routesInNginx(topology, service),
      );
      return [`FAULTLINE_CONFIG=${config}`];
    }
    case "dns":
      return [`FAULTLINE_CONFIG=${dnsZoneSpec(topology)}`];
    case "shield": {
      const link = linkTo(topology, "origin");
      if (!link) throw new Error("topology has no link from the shield to the origin");
      return [`FAULTLINE_CONFIG=${shieldConfig(linkAddress(link), routesInNginx(topology, service))}`];
    }
    case "lb": {
      const pop = popViews(topology).find((p) => p.lb === service.name);
      if (!pop) throw new Error(`no PoP has ${service.name} as its load balancer`);
      return [`FAULTLINE_CONFIG=${popLbConfig(topology, pop)}`];
    }
    case "global":
      return [`FAULTLINE_CONFIG=${globalLbConfig(topology)}`];
    case "prometheus":
      return [`FAULTLINE_CONFIG=${prometheusConfig(topology)}`];
    default:
      return [];
  }
}

/** A service's tmpfs mounts: what its faults keep there is gone on a restart. */
function tmpfsFor(topology: Topology, service: Service): Record<string, string> {
  return {
    ...(service.role === "lb" ? { [LB_RUN_DIR]: "rw,size=1m" } : {}),
    // http-route's rule (route-lua.ts).
    ...(routesInNginx(topology, service) ? { [NGINX_RUN_DIR]: "rw,size=1m" } : {}),
    // The clock-skew fault's offset file, and the cache whose entries a clock ahead dated
    // ahead: a restarted edge has the real time and an empty cache, whatever a skew left.
    ...(hasSkewableClock(topology, service)
      ? { [CLOCK_SKEW_DIR]: "rw,size=1m", [`/var/cache/faultline-${service.role}`]: "rw,size=80m" }
      : {}),
  };
}

/** What a service's container needs of its host beyond its network and ports. */
function hostConfigFor(topology: Topology, service: Service) {
  return {
    // Faults such as packet loss need to edit the container's own netfilter rules.
    CapAdd: ["edge", "origin", "shield"].includes(service.role) ? ["NET_ADMIN"] : [],
    // Toxiproxy dials each upstream inside its accept loop, without a timeout: one dial to
    // a container that just died (its address gone, SYNs unanswered) holds every later
    // client of that link until the kernel gives up, 127 s by default, or until the
    // container is back and answers a retransmitted SYN (up to 16 s after it restarts).
    // Two SYN retries bound that stall to 7 s, and the wait after a restart to 4 s.
    ...(service.role === "toxiproxy" ? { Sysctls: { "net.ipv4.tcp_syn_retries": "2" } } : {}),
    Tmpfs: tmpfsFor(topology, service),
  };
}

/**
 * The container ports a service publishes on 127.0.0.1 (TCP, and UDP for the DNS). Host ports
 * are chosen here rather than by Docker: a container restarted by a node-kill fault keeps its
 * port, so the load and the probes keep reaching it.
 */
async function publishedPorts(service: Service) {
  const published = [
    ...service.publish.map((p) => `${p}/tcp`),
    ...(service.publishUdp ?? []).map((p) => `${p}/udp`),
  ];
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of published)
    bindings[p] = [{ HostIp: "127.0.0.1", HostPort: String(await freeLoopbackPort()) }];
  return { ports: Object.fromEntries(published.map((p) => [p, {}])), bindings };
}

async function startService(client: DockerEngine, topology: Topology, service: Service): Promise<void> {
  const name = containerName(topology, service.name);
  const { ports, bindings } = await publishedPorts(service);
  const labels = serviceLabels(topology, service);
  if (service.role === "toxiproxy") labels[LABEL_TOPOLOGY] = JSON.stringify(topology);
  let id: string;
  try {
    id = await client.createContainer({
      name,
      Image: service.image,
      Hostname: service.name,
      Env: envFor(topology, service),
      Labels: labels,
      ExposedPorts: ports,
      ...commandFor(topology, service),
      HostConfig: {
        NetworkMode: topology.network,
        PortBindings: bindings,
        ...hostConfigFor(topology, service),
        Init: true,
      },
      NetworkingConfig: { EndpointsConfig: { [topology.network]: { Aliases: [service.name] } } },
    });
  } catch (error) {
    if (isNotFound(error) && (service.own?.image || service.own?.build))
      throw ownImageMissing(service, error);
    if (isNotFound(error)) {
      throw new EnvironmentError(`image ${service.image} is not on this Docker engine`, {
        suggestion: "run scripts/setup.sh to build the replica's images",
        cause: error,
      });
    }
    throw error;
  }
  const config = service.own?.config;
  if (config) await client.putFile(id, config.at, config.content);
  else if (service.role === "lb") await putLbRoute(client, id);
  // The origin's config (its image's) includes the http-route hook; the edges' carries it.
  if (service.role === "origin" && routesInNginx(topology, service))
    await client.putFile(id, NGINX_ROUTE_CONF, NGINX_ROUTE_HOOK);
  if (topology.tls) await putTlsFiles(client, topology, service, id);
  await client.startContainer(id);
}

function ownImageMissing(service: Service, cause: unknown): InvalidInputError {
  return new InvalidInputError(
    `image ${service.image} (the topology file's image for ${service.name}) is not on this Docker engine`,
    {
      suggestion:
        "build or load it first (docker build -t NAME ...), or give build: DIR so that Faultline builds it",
      cause,
    },
  );
}

/**
 * Builds the images the topology file gives Dockerfiles for (once per image), and checks that
 * the images it names are there, before anything of the replica is created.
 */
async function prepareOwnImages(
  client: DockerEngine,
  topology: Topology,
  progress: (m: string) => void,
  signal: AbortSignal | undefined,
): Promise<void> {
  const byImage = new Map<string, Service>();
  // Only the images the topology file names or builds: Faultline's own are setup's to build.
  for (const s of topology.services)
    if ((s.own?.image || s.own?.build) && !byImage.has(s.image)) byImage.set(s.image, s);
  for (const [image, service] of byImage) {
    const build = service.own?.build;
    if (!build) {
      await client.inspectImage(image).catch((error: unknown) => {
        throw isNotFound(error) ? ownImageMissing(service, error) : error;
      });
      continue;
    }
    progress(`building ${image} from ${build.context}`);
    const started = Date.now();
    await client
      .buildImage(
        { ...build, tag: image, labels: { [LABEL_REPLICA]: topology.replica } },
        signal ? { signal } : {},
      )
      .catch((error: unknown) => {
        if (!(error instanceof BuildError)) throw error;
        throw new InvalidInputError(
          `building ${image} for ${service.name} from ${build.context}/${build.dockerfile} failed: ${error.message}${error.lastLines ? `\nthe build's last lines:\n${error.lastLines}` : ""}`,
          { suggestion: `fix the Dockerfile; \`docker build ${build.context}\` shows the whole build` },
        );
      });
    progress(`built ${image} in ${formatDuration(Date.now() - started)}`);
  }
}

/** A service's command, when it is not its image's: the user's, or what its TLS needs first. */
function commandFor(topology: Topology, service: Service): { Cmd?: string[] } {
  if (service.own?.command) return { Cmd: service.own.command };
  if (service.role === "toxiproxy")
    return { Cmd: [`-host=0.0.0.0`, `-port=${TOXIPROXY_API_PORT}`, "-proxy-metrics"] };
  if (topology.tls?.originPull && service.role === "origin") return { Cmd: originStartCommand() };
  if (topology.tls?.terminate === "edges" && service.role === "edge") return { Cmd: edgeStartCommand() };
  return {};
}

/** What Faultline's load balancer config reads at start: its Lua (route action, series service), the empty route map. */
async function putLbRoute(client: DockerEngine, id: string): Promise<void> {
  await client.putFile(id, LB_FAULTLINE_LUA, LB_LUA);
  await client.putFile(id, LB_ROUTE_MAP, "");
}

/** What a service of a replica serving HTTPS reads at start, by role. */
async function putTlsFiles(client: DockerEngine, topology: Topology, service: Service, id: string) {
  if (service.role === "lb") await putLbTls(client, topology, service.name, id);
  if (service.role === "edge" && topology.tls?.terminate === "edges")
    await putEdgeTls(client, topology, service.name, id);
  if (topology.tls?.originPull) await putOriginPullFiles(client, topology, service, id);
}

/**
 * What a load balancer serving HTTPS reads at start: where it terminates TLS, its certificate
 * and key (HAProxy's one-file form); where the edges do, the CA it verifies them with. Beside
 * them, its TCP front's Lua action and the front's maps, empty (TLS faults fill them at run
 * time, through the runtime API; a restart starts empty again).
 */
async function putLbTls(client: DockerEngine, topology: Topology, lb: string, id: string): Promise<void> {
  const authority = await replicaAuthority(topology.replica);
  if (topology.tls?.terminate === "edges") await client.putFile(id, LB_CA_PATH, authority.certPem);
  else {
    const cert = await issueCertificate(authority, { names: popCertificateNames(lb) });
    await client.putFile(id, LB_CERT_PATH, combinedPem(cert));
  }
  await client.putFile(id, LB_LUA_PATH, HANDSHAKE_DELAY_LUA);
  for (const map of [LB_DELAY_MAP, LB_OFFER_MAP]) await client.putFile(id, map, "");
}

/** With TLS at the edges: an edge's certificate and key (one PEM) and its TLS config. */
async function putEdgeTls(client: DockerEngine, topology: Topology, edge: string, id: string): Promise<void> {
  const authority = await replicaAuthority(topology.replica);
  const cert = await issueCertificate(authority, { names: edgeCertificateNames(edge) });
  await client.putFile(id, EDGE_CERT_PATH, combinedPem(cert));
  await client.putFile(id, EDGE_TLS_CONF, edgeTlsConfig(EDGE_CERT_PATH));
}

/** Origin pull over TLS: the origin's certificate and TLS config; the CA the edges verify it with. */
async function putOriginPullFiles(
  client: DockerEngine,
  topology: Topology,
  service: Service,
  id: string,
): Promise<void> {
  if (service.own?.image || service.own?.config) return;
  const authority = await replicaAuthority(topology.replica);
  if (service.role === "edge") await client.putFile(id, EDGE_CA_PATH, authority.certPem);
  if (service.role !== "origin") return;
  const cert = await issueCertificate(authority, { names: originCertificateNames });
  await client.putFile(id, ORIGIN_CERT_PATH, combinedPem(cert));
  await client.putFile(id, ORIGIN_TLS_CONF, originTlsConfig(ORIGIN_CERT_PATH));
}

async function readEndpoints(client: DockerEngine, topology: Topology): Promise<Endpoints> {
  const hostPort = async (service: string, port: number, protocol = "tcp"): Promise<string> => {
    const info = await client.inspectContainer(containerName(topology, service));
    const binding = info.NetworkSettings.Ports?.[`${port}/${protocol}`]?.[0];
    if (!binding?.HostPort) throw new EnvironmentError(`${service} has no published port for ${port}`);
    return `http://127.0.0.1:${binding.HostPort}`;
  };
  // A load balancer's stats page: Faultline's at /stats, the user's where its config puts it,
  // none ("") when the user's config has none.
  const statsOf = async (service: string): Promise<{ lbStats: string; lbStatsCsv?: string }> => {
    const page = statsPageOf(topology, service);
    const base = page === false ? "" : await hostPort(service, LB_STATS_PORT).catch(() => "");
    return { lbStats: base, ...(page && base ? { lbStatsCsv: `${base}${page.path};csv;norefresh` } : {}) };
  };
  const front = topology.global?.service ?? "lb";
  const pops: NonNullable<Endpoints["pops"]> = {};
  for (const pop of topology.pops ?? []) pops[pop.name] = await statsOf(pop.lb);
  const health: Record<string, string> = {};
  for (const s of topology.services)
    if (s.own?.health)
      health[s.name] = `${await hostPort(s.name, s.own.health.port).catch(() => "")}${s.own.health.path}`;
  return {
    lb: await hostPort(front, LB_HTTP_PORT).catch(() => ""),
    ...(topology.tls
      ? { lbTls: (await hostPort(front, LB_TLS_PORT).catch(() => "")).replace(/^http:\/\//, "") }
      : {}),
    ...(topology.dns
      ? { dns: (await hostPort(DNS_SERVICE, DNS_PORT, "udp").catch(() => "")).replace(/^http:\/\//, "") }
      : {}),
    ...(await statsOf(front)),
    ...(Object.keys(health).length ? { health } : {}),
    toxiproxy: await hostPort("toxiproxy", TOXIPROXY_API_PORT),
    prometheus: await hostPort("prometheus", PROMETHEUS_PORT).catch(() => ""),
    ...(topology.pops ? { pops } : {}),
  };
}

/** Attaches to a running replica; fails with a suggestion when it is not up. */
export async function connectReplica(name = "default"): Promise<Replica> {
  const client = engine();
  await ensureEngine(client);
  const containers = await listContainers(client, name);
  const toxiproxy = containers.find((c) => c.Labels[LABEL_ROLE] === "toxiproxy");
  const raw = toxiproxy?.Labels[LABEL_TOPOLOGY];
  if (!toxiproxy || !raw) {
    // A stack a run attached to: the settings it recorded find the same containers again.
    const attached = ownsNoService(containers) ? readAttachRecord(name) : undefined;
    if (attached) return connectAttached(attached);
    throw new EnvironmentError(`replica ${name} is not up`, {
      suggestion: `run \`faultline replica up${name === "default" ? "" : ` --replica ${name}`}\``,
    });
  }
  const topology = JSON.parse(raw) as Topology;
  return { topology, endpoints: await readEndpoints(client, topology) };
}

/** The stats CSV of a load balancer whose stats page is `<base>/stats`. */
const csvOf = (base: string | undefined) => (base ? `${base}/stats;csv;norefresh` : undefined);

/** True when none of the containers is a service of a Faultline replica (sidecars do not count). */
function ownsNoService(containers: readonly { Labels: Record<string, string> }[]): boolean {
  const own: readonly string[] = SERVICE_ROLES;
  return !containers.some((c) => own.includes(c.Labels[LABEL_ROLE] ?? ""));
}

/**
 * A running stack Faultline did not create, as a Replica: load and probes go to its entry
 * point. It has no Prometheus (empty endpoint: what needs it says it is not available); its
 * Toxiproxy endpoint is Faultline's own for the stack (src/replica/attach-toxiproxy.ts) while
 * a link fault has one running, else empty.
 */
export async function connectAttached(settings: AttachSettings): Promise<Replica> {
  return (await attachStack(settings)).replica;
}

/** As connectAttached, with the state of each mapped container (running, exited, paused...). */
export async function attachStack(
  settings: AttachSettings,
): Promise<{ replica: Replica; states: Record<string, string> }> {
  const found = await discoverStack(settings);
  const endpoints: Endpoints = {
    lb: found.entry,
    lbStats: "",
    ...(found.statsCsv ? { lbStatsCsv: found.statsCsv } : {}),
    toxiproxy: (await findAttachToxiproxy(found.topology))?.api ?? "",
    prometheus: "",
  };
  return { replica: { topology: found.topology, endpoints }, states: found.states };
}

/** `replica up` and `down` act on Faultline's own replicas only. */
async function refuseAttached(name: string, command: "up" | "down"): Promise<void> {
  if (!(await isAttachedStack(name))) return;
  throw new InvalidInputError(
    `${name} is a running stack Faultline attaches to, not a replica it brought up: \`replica ${command}\` leaves it alone`,
    {
      suggestion:
        command === "down"
          ? `take it down with its own tools (docker-compose -p ${name} down); \`faultline recover --replica ${name}\` reverts Faultline's faults on it`
          : "run experiments against it with `replica: { attach: ... }`, or give the replica another name",
    },
  );
}

async function statsCsv(csvUrl: string | undefined): Promise<string> {
  if (!csvUrl) throw new Error("no stats endpoint (not available with this config)");
  const response = await fetch(csvUrl, { signal: AbortSignal.timeout(2000) });
  if (!response.ok) throw new Error(`HAProxy stats answered ${response.status}`);
  return response.text();
}

/**
 * What the load balancers' health checks say about each edge, from their stats CSV. With
 * several PoPs, a PoP whose load balancer does not answer contributes no edges.
 */
export async function edgeStates(replica: Replica): Promise<Map<string, EdgeState>> {
  const { topology, endpoints } = replica;
  if (!topology.pops)
    return parseHaproxyCsv(
      await statsCsv(endpoints.lbStatsCsv ?? csvOf(endpoints.lbStats)),
      topology.edges,
      topology.attach?.statsBackend ?? (topology.lbStats ? topology.lbStats.backend : "edges"),
    );
  const states = new Map<string, EdgeState>();
  const answers = await Promise.allSettled(
    topology.pops.map(async (pop) => {
      const stats = endpoints.pops?.[pop.name];
      return parseHaproxyCsv(
        await statsCsv(stats?.lbStatsCsv ?? csvOf(stats?.lbStats)),
        pop.edges,
        pop.stats ? pop.stats.backend : "edges",
      );
    }),
  );
  for (const answer of answers)
    if (answer.status === "fulfilled") for (const [edge, state] of answer.value) states.set(edge, state);
  if (answers.every((a) => a.status === "rejected")) throw new Error("no PoP load balancer answered");
  return states;
}

/** What the global traffic layer's health checks say about each PoP (multi-PoP replicas). */
export async function popStates(replica: Replica): Promise<Map<string, EdgeState>> {
  const { pops, global } = replica.topology;
  if (!pops) return new Map();
  const { endpoints } = replica;
  return parseHaproxyCsv(
    await statsCsv(endpoints.lbStatsCsv ?? csvOf(endpoints.lbStats)),
    pops.map((p) => p.name),
    global?.stats ? global.stats.backend : "pops",
  );
}

export function parseHaproxyCsv(
  csv: string,
  edges: readonly string[],
  backend = "edges",
): Map<string, EdgeState> {
  const lines = csv.trim().split("\n");
  const header = (lines[0] ?? "").replace(/^#\s*/, "").split(",");
  const px = header.indexOf("pxname");
  const sv = header.indexOf("svname");
  const st = header.indexOf("status");
  const states = new Map<string, EdgeState>();
  for (const line of lines.slice(1)) {
    const cols = line.split(",");
    const server = cols[sv];
    if (cols[px] !== backend || !server || !edges.includes(server)) continue;
    const status = cols[st] ?? "";
    states.set(
      server,
      status === "UP"
        ? "up"
        : status === "DOWN"
          ? "down"
          : status.startsWith("UP ")
            ? "going-down"
            : status.startsWith("DOWN ")
              ? "going-up"
              : status.startsWith("MAINT")
                ? "maintenance"
                : "unknown",
    );
  }
  return states;
}

async function waitForEdges(
  replica: Replica,
  timeoutMs: number,
  progress: (m: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  let last = "";
  await waitUntil(
    async () => {
      await assertAllRunning(replica.topology);
      const { done, line } = await upNow(replica);
      if (line !== last) progress(line);
      last = line;
      return done ? { done: true, value: undefined } : { done: false, reason: line };
    },
    {
      description: "every edge to be healthy behind the load balancer",
      timeoutMs,
      intervalMs: 100,
      ...(signal ? { signal } : {}),
    },
  ).catch((error: unknown) => {
    if (error instanceof ServiceExitedError || error instanceof InvalidInputError) throw error;
    throw new EnvironmentError(
      `replica ${replica.topology.replica} did not become healthy: ${errorMessage(error)}`,
      {
        suggestion: "see `faultline replica status` and `docker logs faultline-<replica>-lb`",
        cause: error,
      },
    );
  });
}

/**
 * Whether the replica is up: every edge UP in its load balancers' view (where their config has
 * a stats page) and every PoP in the global layer's, and every health endpoint the topology
 * file gives answering below 400.
 */
async function upNow(replica: Replica): Promise<{ done: boolean; line: string }> {
  const lines: string[] = [];
  let done = true;
  const { topology } = replica;
  const judged = judgedEdges(topology);
  const pops = topology.pops ?? [];
  const popsJudged = pops.length > 0 && topology.global?.stats !== false;
  if (judged.length || popsJudged) {
    const states = judged.length ? await edgeStates(replica) : new Map<string, EdgeState>();
    const up = judged.filter((e) => states.get(e) === "up");
    const popsUp = popsJudged
      ? await popStates(replica).catch(() => new Map<string, EdgeState>())
      : new Map<string, EdgeState>();
    const healthyPops = pops.filter((p) => popsUp.get(p.name) === "up");
    lines.push(
      [
        ...(judged.length
          ? [
              `edges healthy behind the load balancer${pops.length > 1 ? "s" : ""}: ${up.length}/${judged.length}`,
            ]
          : []),
        ...(popsJudged ? [`PoPs healthy behind the global layer: ${healthyPops.length}/${pops.length}`] : []),
      ].join("; "),
    );
    done = up.length === judged.length && (!popsJudged || healthyPops.length === pops.length);
  }
  const health = Object.entries(replica.endpoints.health ?? {});
  if (health.length) {
    const answering = await Promise.all(
      health.map(async ([service, url]) => ((await answers(url)) ? service : "")),
    );
    const ok = answering.filter(Boolean);
    const waiting = health.map(([s]) => s).filter((s) => !ok.includes(s));
    lines.push(
      `services answering their health endpoint: ${ok.length}/${health.length}${waiting.length ? ` (waiting for ${waiting.join(", ")})` : ""}`,
    );
    done &&= ok.length === health.length;
  }
  return { done, line: lines.join("; ") };
}

async function answers(url: string): Promise<boolean> {
  if (!url.startsWith("http")) return false;
  const response = await fetch(url, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
  await response?.body?.cancel().catch(() => {});
  return response !== undefined && response.status < 400;
}

class ServiceExitedError extends EnvironmentError {}

/** Fails at once, with the service's last log lines, when a container of the replica has exited. */
async function assertAllRunning(topology: Topology): Promise<void> {
  const client = engine();
  const containers = await listContainers(client, topology.replica);
  const dead = containers.find((c) => c.State !== "running");
  if (!dead) return;
  const logs = await client
    .containerLogs(dead.Id, { tail: 5 })
    .then((text) => text.trim())
    .catch(() => "");
  const service = dead.Labels[LABEL_SERVICE] ?? dead.Id;
  const own = topology.services.find((s) => s.name === service)?.own;
  const said = `${service} of replica ${topology.replica} is ${dead.State}${logs ? `; its last log lines:\n${logs}` : ""}`;
  const suggestion = `docker logs ${dead.Names[0]?.replace(/^\//, "") ?? dead.Id}`;
  // Faultline's own services start; one that runs the user's config or image and exits is
  // what that config or image does: bad input, with the service's own words.
  if (own)
    throw new InvalidInputError(
      `${said}\n(it runs ${own.config ? `your config ${own.config.source}` : "your image or command"} from the topology file; nothing was injected, and Faultline removes what it started)`,
      {
        suggestion: `fix ${own.config?.source ?? "it"} and run again (check it with the service's own tool, e.g. haproxy -c -f FILE or nginx -t)`,
      },
    );
  throw new ServiceExitedError(said, { suggestion });
}

export interface DownResult {
  containers: string[];
  networks: string[];
  /** Networks left in place, with the reason. */
  kept: string[];
}

/**
 * Removes a replica's network once its containers are gone. The engine may still hold an
 * endpoint of a container it has just removed for a moment (under load): a conflict is tried
 * again for NETWORK_SETTLE_MS before the network counts as in use by a container that is not
 * ours to disconnect.
 */
async function removeReplicaNetwork(
  client: DockerEngine,
  id: string,
): Promise<"removed" | "gone" | "in use"> {
  const deadline = Date.now() + NETWORK_SETTLE_MS;
  for (;;) {
    try {
      await client.removeNetwork(id);
      return "removed";
    } catch (error) {
      if (isNotFound(error)) return "gone";
      if (!isConflict(error) && !isForbidden(error)) throw error;
      if (Date.now() >= deadline) return "in use";
      await sleep(250);
    }
  }
}

const NETWORK_SETTLE_MS = 1500;

/** Removes every container and network labelled with this replica's name, nothing else. */
export async function replicaDown(name = "default"): Promise<DownResult> {
  const client = engine();
  await ensureEngine(client);
  const containers = await listContainers(client, name);
  if (ownsNoService(containers)) await refuseAttached(name, "down");
  const removed: string[] = [];
  await Promise.all(
    containers.map(async (c) => {
      try {
        await client.removeContainer(c.Id, { force: true, volumes: true });
        removed.push(c.Names[0]?.replace(/^\//, "") ?? c.Id);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }),
  );
  const networks = await client.listNetworks({ filters: labelFilter(name) });
  const removedNetworks: string[] = [];
  const kept: string[] = [];
  for (const n of networks) {
    const outcome = await removeReplicaNetwork(client, n.Id);
    if (outcome === "removed") removedNetworks.push(n.Name);
    if (outcome === "in use")
      kept.push(`${n.Name} (containers without the replica's label are still attached)`);
  }
  // Every fault died with the containers: what crashed runs left in the ledger describes
  // nothing any more, and would make the next replica of this name refuse to run. A live run
  // keeps its own write-ahead record.
  const holder = readLock(name);
  if (!holder || !isAlive(holder.pid)) {
    for (const entry of readLedger(name).entries) clearEntry(name, entry.runId, entry.faultId);
  }
  return { containers: removed.sort(), networks: removedNetworks, kept };
}

export async function replicaStatus(name = "default"): Promise<ReplicaStatus> {
  const client = engine();
  await ensureEngine(client);
  const containers = await listContainers(client, name);
  const attached = ownsNoService(containers) ? readAttachRecord(name) : undefined;
  if (attached) return attachedStatus(name, attached);
  if (containers.length === 0) return { replica: name, exists: false, services: [] };
  const replica = await connectReplica(name).catch(() => undefined);
  const states = replica ? await edgeStates(replica).catch(() => new Map<string, EdgeState>()) : new Map();
  const pops = replica ? await popStates(replica).catch(() => new Map<string, EdgeState>()) : new Map();
  const popOfLb = new Map((replica?.topology.pops ?? []).map((p) => [p.lb, p.name]));
  const services = containers
    .map(
      (c): ServiceStatus => ({
        service: c.Labels[LABEL_SERVICE] ?? "?",
        role: c.Labels[LABEL_ROLE] ?? "?",
        container: c.Names[0]?.replace(/^\//, "") ?? c.Id,
        state: c.State,
        ...(c.Labels[LABEL_ROLE] === "edge"
          ? { lbState: states.get(c.Labels[LABEL_SERVICE] ?? "") ?? "unknown" }
          : popOfLb.has(c.Labels[LABEL_SERVICE] ?? "")
            ? { lbState: pops.get(popOfLb.get(c.Labels[LABEL_SERVICE] ?? "")) ?? "unknown" }
            : {}),
      }),
    )
    .sort((a, b) => a.service.localeCompare(b.service, "en", { numeric: true }));
  return { replica: name, exists: true, services, ...(replica ? { endpoints: replica.endpoints } : {}) };
}

/** An attached stack's mapped services, their containers' states and, with stats:, the LB's view. */
async function attachedStatus(name: string, settings: AttachSettings): Promise<ReplicaStatus> {
  const { replica, states } = await attachStack(settings);
  const lb = await edgeStates(replica).catch(() => new Map<string, EdgeState>());
  const services = replica.topology.services.map(
    (s): ServiceStatus => ({
      service: s.name,
      role: s.role,
      container: containerName(replica.topology, s.name).slice(0, 12),
      state: states[s.name] ?? "?",
      ...(s.role === "edge" ? { lbState: lb.get(s.name) ?? "unknown" } : {}),
    }),
  );
  return { replica: name, exists: true, services, endpoints: replica.endpoints };
}
