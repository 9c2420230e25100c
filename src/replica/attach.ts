import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type Docker from "dockerode";
import { z } from "zod";
import { EnvironmentError, InvalidInputError } from "../errors.js";
import { stateDir } from "../lifecycle/state.js";
import { ensureEngine, LABEL_REPLICA } from "./docker.js";
import { type DockerEngine, engine } from "./engine.js";
import type { AttachedStack, Role, Service, Topology } from "./topology.js";

// Attaching to a running stack that Faultline did not create: a Docker Compose project, found
// by its `com.docker.compose.project` label, or containers carrying the opt-in label
// `faultline.attach=<name>`. The settings map the stack's services to the roles Faultline
// knows; discovery turns the live containers into a Topology whose `attach` lists every
// container id Faultline may touch (containerName() refuses any other service).

export const LABEL_COMPOSE_PROJECT = "com.docker.compose.project";
export const LABEL_COMPOSE_SERVICE = "com.docker.compose.service";
/** The opt-in label for containers of a stack that is not a Compose project. */
export const LABEL_ATTACH = "faultline.attach";

const stackName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, {
  message: "expected a name of lowercase letters, digits, dashes and underscores (as Compose writes them)",
});
const serviceName = z
  .string()
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, { message: "expected a Compose service name" });

const LOOPBACK = /^(127(\.\d{1,3}){3}|localhost|\[::1\])$/;

/** `entry`: an http URL on loopback, kept as its origin (scheme, host, port). */
const entrySchema = z.string().transform((text, ctx) => {
  const url = URL.canParse(text) ? new URL(text) : undefined;
  if (url?.protocol !== "http:" || (url.pathname !== "/" && url.pathname !== "")) {
    ctx.addIssue({
      code: "custom",
      message: `expected an http URL such as http://127.0.0.1:8480, got "${text}"`,
    });
    return z.NEVER;
  }
  if (!LOOPBACK.test(url.hostname)) {
    ctx.addIssue({
      code: "custom",
      message: `expected an entry point on loopback (127.0.0.1): Faultline sends load and probes nowhere else, got "${url.hostname}"`,
    });
    return z.NEVER;
  }
  return url.origin;
});

export const attachSchema = z
  .strictObject({
    compose: stackName.optional().describe("a running Docker Compose project (its -p name)"),
    label: stackName.optional().describe(`containers labelled ${LABEL_ATTACH}=<name>`),
    entry: entrySchema
      .optional()
      .describe("the stack's published entry point on loopback; default: the port its lb publishes"),
    stats: z
      .strictObject({
        path: z.string().regex(/^\//, { message: 'expected a path starting with "/"' }),
        backend: z.string().min(1).describe("the HAProxy backend whose servers are the edges"),
      })
      .optional()
      .describe("the load balancer's HAProxy stats page on the entry point, for its view of the edges"),
    ports: z
      .record(serviceName, z.number().int().min(1).max(65_535))
      .optional()
      .describe("the TCP port link faults act on, by service, where its container exposes several (or none)"),
    series: z
      .preprocess(
        (value) => (value === true ? {} : value),
        z.strictObject({
          port: z
            .number()
            .int()
            .min(1024)
            .max(65_535)
            .optional()
            .describe("where 127.0.0.1 publishes them, for a Prometheus on the host; default: a free port"),
        }),
      )
      .optional()
      .describe(
        "serve the run's series (fault windows, phase, checks) at faultline-series:8405/faultline/metrics on the stack's network, for its own Prometheus: true, or { port: N }",
      ),
    roles: z.strictObject({
      lb: z.array(serviceName).length(1, { message: "expected one load balancer service, e.g. lb: [lb]" }),
      edge: z.array(serviceName).min(1, { message: "expected at least one edge service" }),
      origin: z.array(serviceName).max(1, { message: "expected at most one origin service" }).default([]),
    }),
  })
  .superRefine((settings, ctx) => {
    if ((settings.compose === undefined) === (settings.label === undefined))
      ctx.addIssue({
        code: "custom",
        path: ["compose"],
        message: `expected exactly one of compose (a Compose project) or label (containers labelled ${LABEL_ATTACH}=<name>)`,
      });
    const seen = new Set<string>();
    for (const role of ["lb", "edge", "origin"] as const) {
      settings.roles[role].forEach((service, i) => {
        if (seen.has(service))
          ctx.addIssue({
            code: "custom",
            path: ["roles", role, i],
            message: `expected each service in one role only; "${service}" is named twice`,
          });
        seen.add(service);
      });
    }
    for (const service of Object.keys(settings.ports ?? {}))
      if (!seen.has(service))
        ctx.addIssue({
          code: "custom",
          path: ["ports", service],
          message: `expected a service named in roles; "${service}" is not (${[...seen].join(", ")})`,
        });
  });
export type AttachSettings = z.output<typeof attachSchema>;

/** The replica name of an attached stack: its project or label value (its lock and ledger go by it). */
export function attachName(settings: AttachSettings): string {
  return settings.compose ?? settings.label ?? "";
}

/** "Compose project shop" / "the containers labelled faultline.attach=shop", for messages. */
export function describeStack(stack: Pick<AttachedStack, "by" | "selector">): string {
  return stack.by === "compose"
    ? `Compose project ${stack.selector}`
    : `the containers labelled ${LABEL_ATTACH}=${stack.selector}`;
}

function selectorOf(settings: AttachSettings): Pick<AttachedStack, "by" | "selector"> {
  return settings.compose !== undefined
    ? { by: "compose", selector: settings.compose }
    : { by: "label", selector: settings.label ?? "" };
}

function labelFilter(stack: Pick<AttachedStack, "by" | "selector">): string {
  return `${stack.by === "compose" ? LABEL_COMPOSE_PROJECT : LABEL_ATTACH}=${stack.selector}`;
}

function mappedServices(settings: AttachSettings): { service: string; role: Role }[] {
  return (["lb", "edge", "origin"] as const).flatMap((role) =>
    settings.roles[role].map((service) => ({ service, role })),
  );
}

/** What discovery adds to the settings: container ids and real labels, the network, each container's exposed TCP ports. */
export interface DiscoveredContainers {
  containers: Record<string, string>;
  /** Absent where a caller knows none (tests of other concerns). */
  labels?: Record<string, Record<string, string>>;
  network: string;
  exposed?: Record<string, number[]>;
  networks?: Record<string, string[]>;
}

/**
 * The topology of an attached stack: its mapped services, no Toxiproxy links, and the
 * containers Faultline may touch (none before discovery: enough to plan and validate).
 */
export function attachedTopology(
  settings: AttachSettings,
  discovered: DiscoveredContainers = { containers: {}, labels: {}, network: "", exposed: {} },
): Topology {
  const services = mappedServices(settings).map(({ service, role }): Service => {
    const labels = discovered.labels?.[service];
    return { name: service, role, image: "", publish: [], ...(labels ? { labels } : {}) };
  });
  return {
    replica: attachName(settings),
    network: discovered.network,
    services,
    links: [],
    edges: settings.roles.edge,
    // The stack's own HAProxy config decides; Faultline does not know its settings.
    healthCheck: { intervalMs: 0, timeoutMs: 0, fall: 0, rise: 0 },
    attach: {
      ...selectorOf(settings),
      containers: discovered.containers,
      exposed: discovered.exposed ?? {},
      ...(discovered.networks ? { networks: discovered.networks } : {}),
      ...(settings.ports ? { ports: settings.ports } : {}),
      ...(settings.stats ? { statsBackend: settings.stats.backend } : {}),
      ...(settings.series ? { series: settings.series } : {}),
    },
  };
}

/** What discovery found: the topology, where load goes, and each mapped service's state. */
export interface DiscoveredStack {
  topology: Topology;
  entry: string;
  /** The HAProxy stats CSV of the load balancer, when the settings name its stats page. */
  statsCsv: string | undefined;
  states: Record<string, string>;
}

const serviceOf = (c: Docker.ContainerInfo) =>
  c.Labels[LABEL_COMPOSE_SERVICE] ?? c.Names[0]?.replace(/^\//, "") ?? c.Id;

/** Lists the stack's containers (never Faultline's own sidecars), by service. */
async function stackContainers(
  settings: AttachSettings,
  client: DockerEngine,
): Promise<Map<string, Docker.ContainerInfo[]>> {
  const stack = selectorOf(settings);
  const listed = await client.listContainers({ all: true, filters: { label: [labelFilter(stack)] } });
  const own = listed.filter((c) => c.Labels[LABEL_REPLICA] === undefined);
  if (own.length === 0)
    throw new EnvironmentError(
      `${describeStack(stack)} has no containers on the Docker engine at ${client.address}`,
      {
        suggestion:
          stack.by === "compose"
            ? `start it first (docker-compose -p ${stack.selector} -f FILE up -d), or name a running project`
            : `label the stack's containers ${LABEL_ATTACH}=${stack.selector}`,
      },
    );
  const byService = new Map<string, Docker.ContainerInfo[]>();
  for (const c of own) byService.set(serviceOf(c), [...(byService.get(serviceOf(c)) ?? []), c]);
  return byService;
}

/** One container per mapped service; a service the stack lacks is bad input. */
function mapContainers(
  settings: AttachSettings,
  byService: Map<string, Docker.ContainerInfo[]>,
): Map<string, Docker.ContainerInfo> {
  const stack = describeStack(selectorOf(settings));
  const services = [...byService.keys()].sort();
  const missing = mappedServices(settings).filter((m) => !byService.has(m.service));
  if (missing.length > 0)
    throw new InvalidInputError(
      `attach roles name ${missing.map((m) => `${m.service} (${m.role})`).join(", ")}, which ${stack} does not have`,
      { suggestion: `its services: ${services.join(", ")}` },
    );
  const mapped = new Map<string, Docker.ContainerInfo>();
  for (const { service } of mappedServices(settings)) {
    const containers = byService.get(service) ?? [];
    const [only] = containers;
    if (!only || containers.length > 1)
      throw new InvalidInputError(
        `service ${service} of ${stack} has ${containers.length} containers; attach maps one container per service`,
        { suggestion: "scale it to one, or label one container per service" },
      );
    mapped.set(service, only);
  }
  return mapped;
}

const ANY_OR_LOOPBACK = new Set(["127.0.0.1", "0.0.0.0", "::", "::1", ""]);

/** The entry point: the settings' (checked to be a port the stack publishes), or the lb's. */
function entryOf(
  settings: AttachSettings,
  byService: Map<string, Docker.ContainerInfo[]>,
  lb: Docker.ContainerInfo,
): string {
  const stack = describeStack(selectorOf(settings));
  const published = [...byService.entries()].flatMap(([service, containers]) =>
    containers.flatMap((c) =>
      (c.Ports ?? [])
        .filter((p) => p.Type === "tcp" && p.PublicPort && ANY_OR_LOOPBACK.has(p.IP ?? ""))
        .map((p) => ({ service, port: p.PublicPort, privatePort: p.PrivatePort })),
    ),
  );
  const list = published.map((p) => `${p.service} ${p.port}->${p.privatePort}`).join(", ");
  if (settings.entry) {
    const port = Number(new URL(settings.entry).port || 80);
    if (!published.some((p) => p.port === port))
      throw new InvalidInputError(`entry ${settings.entry}: ${stack} publishes no port ${port} on loopback`, {
        suggestion: list
          ? `it publishes: ${list}`
          : `publish its load balancer on loopback (ports: ["127.0.0.1:${port}:80"])`,
      });
    return settings.entry;
  }
  const lbName = serviceOf(lb);
  const own = published.filter((p) => p.service === lbName);
  const chosen = own.find((p) => p.privatePort === 80) ?? own[0];
  if (!chosen)
    throw new InvalidInputError(
      `${stack} has no published entry point: ${lbName} publishes no port on loopback`,
      {
        suggestion: `publish it (ports: ["127.0.0.1:8480:80"]) and name it with entry: http://127.0.0.1:8480`,
      },
    );
  return `http://127.0.0.1:${chosen.port}`;
}

/** The TCP ports a container exposes (published or not), each once, ascending. */
function exposedTcp(c: Docker.ContainerInfo): number[] {
  const ports = (c.Ports ?? []).filter((p) => p.Type === "tcp").map((p) => p.PrivatePort);
  return [...new Set(ports)].sort((a, b) => a - b);
}

/** Finds the stack's containers and builds its topology; bad settings fail before anything is touched. */
export async function discoverStack(
  settings: AttachSettings,
  client: DockerEngine = engine(),
): Promise<DiscoveredStack> {
  await ensureEngine(client);
  const byService = await stackContainers(settings, client);
  const mapped = mapContainers(settings, byService);
  const lb = mapped.get(settings.roles.lb[0] ?? "");
  if (!lb) throw new Error("attach settings have no load balancer");
  const entry = entryOf(settings, byService, lb);
  const network = Object.keys(lb.NetworkSettings?.Networks ?? {})[0] ?? "";
  const containers = Object.fromEntries([...mapped].map(([service, c]) => [service, c.Id]));
  const exposed = Object.fromEntries([...mapped].map(([service, c]) => [service, exposedTcp(c)]));
  const states = Object.fromEntries([...mapped].map(([service, c]) => [service, c.State]));
  const labels = Object.fromEntries([...mapped].map(([service, c]) => [service, c.Labels]));
  const networks = Object.fromEntries(
    [...mapped].map(([service, c]) => [service, Object.keys(c.NetworkSettings?.Networks ?? {})]),
  );
  return {
    topology: attachedTopology(settings, { containers, labels, network, exposed, networks }),
    entry,
    statsCsv: settings.stats ? `${entry}${settings.stats.path};csv;norefresh` : undefined,
    states,
  };
}

/** Whether the stack a name attaches to (the record's, or a Compose project of that name) has containers. */
export async function isAttachedStack(name: string, client: DockerEngine = engine()): Promise<boolean> {
  const recorded = readAttachRecord(name);
  const stack = recorded ? selectorOf(recorded) : { by: "compose" as const, selector: name };
  const listed = await client.listContainers({ all: true, filters: { label: [labelFilter(stack)] } });
  return listed.some((c) => c.Labels[LABEL_REPLICA] === undefined);
}

// The attach record: the settings of the last run on an attached stack, in its state folder,
// so that the watchdog, `recover` and `inject` find the same containers by the name alone.

const recordPath = (name: string) => join(stateDir(name), "attach.json");

export function writeAttachRecord(settings: AttachSettings): void {
  const path = recordPath(attachName(settings));
  mkdirSync(stateDir(attachName(settings)), { recursive: true });
  writeFileSync(`${path}.tmp`, `${JSON.stringify(settings)}\n`);
  renameSync(`${path}.tmp`, path);
}

export function readAttachRecord(name: string): AttachSettings | undefined {
  const path = recordPath(name);
  if (!existsSync(path)) return undefined;
  const raw: unknown = JSON.parse(readFileSync(path, "utf8"));
  const parsed = attachSchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}
