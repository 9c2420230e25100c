import { z } from "zod";
import { InvalidInputError } from "../errors.js";
import { type PathKey, parseLocated, readInputFile } from "../format/located-yaml.js";
import { duration } from "../format/unit-schemas.js";
import { type AttachSettings, attachedTopology, attachName } from "./attach.js";
import {
  applyOwnGroup,
  linkBetweenSchema,
  type OwnGroup,
  ownFields,
  userServiceSchema,
} from "./own-parts.js";
import {
  DEFAULT_DNS_TTL_SECONDS,
  DNS_PORT,
  DNS_SERVICE,
  defaultTopology,
  EDGE_TLS_PORT,
  type HealthCheck,
  imageFor,
  LB_TLS_PORT,
  type Link,
  MAX_EDGES,
  multiPopTopology,
  ORIGIN_TLS_PORT,
  OWN_LINK_BASE_PORT,
  type PopSpec,
  REPLICA_NAME,
  REPLICA_NAME_RULE,
  type Service,
  type StatsPage,
  type Topology,
} from "./topology.js";

// Topology files: the shape of a replica in YAML, validated with the same located errors as
// experiments. The built-in PoP is topologies/default.yaml; `faultline replica up --topology`
// and an experiment's `replica: path/to/topology.yaml` use them.

const serviceName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,30}$/, { message: "expected a lowercase name of letters, digits and dashes" });
const reserved = ["lb", "origin", "toxiproxy", "prometheus", "global", "shield", DNS_SERVICE];

export const balances = ["roundrobin", "leastconn"] as const;
export const policies = ["primary-backup", "weighted"] as const;

const DEFAULT_CHECK = { interval: 1000, timeout: 2000, fall: 2, rise: 2 };

const healthCheckFields = (what: string) =>
  z.strictObject({
    interval: duration().default(1000).describe(`time between two checks of ${what}`),
    timeout: duration().default(2000).describe("how long one check may take"),
    fall: z.number().int().min(1).max(100).default(2).describe(`failed checks before ${what} is down`),
    rise: z.number().int().min(1).max(100).default(2).describe("passed checks before it is up again"),
  });

const edgesSchema = z
  .union(
    [
      z.number().int().min(1, { message: "expected at least one edge" }).max(MAX_EDGES),
      z.array(serviceName).min(1, { message: "expected at least one edge" }).max(MAX_EDGES),
    ],
    { error: `expected a number of edges (1 to ${MAX_EDGES}) or a list of edge names` },
  )
  .describe("how many edges (edge-1, edge-2, ...) or their names");

const balanceSchema = z.enum(balances, { error: `expected balance to be one of ${balances.join(", ")}` });

/** A stats page in the user's own HAProxy config, on {{ stats.listen }}. */
const statsSchema = (backend: string, what: string) =>
  z
    .strictObject({
      path: z.string().regex(/^\//, { message: "expected a path starting with /" }).default("/stats"),
      backend: z.string().min(1).default(backend).describe(`the backend whose servers are ${what}`),
    })
    .optional()
    .describe(`your config's HAProxy stats page, bound on {{ stats.listen }}: its view of ${what}`);

/** A PoP's load balancer (the single PoP's, or each of pops:): Faultline's HAProxy config, or your own (config:). */
const loadBalancerSchema = z.strictObject({
  balance: balanceSchema.optional().describe("roundrobin (default) or leastconn; Faultline's config only"),
  healthCheck: healthCheckFields("an edge").optional().describe("Faultline's config only"),
  ...ownFields,
  stats: statsSchema("edges", "the edges"),
});

const popSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]{0,19}$/, {
    message: "expected a PoP name of lowercase letters, digits and dashes (at most 20)",
  }),
  edges: edgesSchema,
  loadBalancer: loadBalancerSchema.optional().describe("its load balancer: Faultline's, or your own parts"),
  role: z
    .enum(["primary", "backup"], { error: "expected role to be primary or backup" })
    .optional()
    .describe("primary-backup policy: default primary for the first PoP, backup for the others"),
  weight: z.number().int().min(1).max(256).optional().describe("weighted policy: its share of clients (1)"),
});

const topologyFields = z.strictObject({
  version: z.literal(1, { error: "expected version: 1" }),
  name: z
    .string()
    .regex(REPLICA_NAME, { message: `expected a replica name of ${REPLICA_NAME_RULE}` })
    .describe("the replica's name: its containers are faultline-<name>-<service>"),
  description: z.string().optional(),
  edges: edgesSchema.optional(),
  loadBalancer: loadBalancerSchema
    .optional()
    .describe("the single PoP's load balancer (with pops: each PoP's own)"),
  edge: z.strictObject(ownFields).optional().describe("every edge's own image, config, env, command, health"),
  services: z
    .record(serviceName, userServiceSchema)
    .optional()
    .describe("services of your own (an app tier, a cache), reached through links.between"),
  pops: z
    .array(popSchema)
    .min(2, { message: "expected at least two PoPs (a single PoP is `edges:` without `pops:`)" })
    .optional()
    .describe("several PoPs behind a global traffic layer"),
  global: z
    .strictObject({
      policy: z
        .enum(policies, { error: `expected policy to be one of ${policies.join(", ")}` })
        .default("primary-backup")
        .describe("with your config: which of role or weight fills {{ pop.backup }} / {{ pop.weight }}"),
      healthCheck: healthCheckFields("a PoP").optional().describe("Faultline's config only"),
      ...ownFields,
      stats: statsSchema("pops", "the PoPs"),
    })
    .optional()
    .describe("the global traffic layer in front of the PoPs"),
  origin: z
    .strictObject({
      shield: z.boolean().default(false).describe("put a shield PoP in front of the origin"),
      ...ownFields,
    })
    .optional(),
  shield: z
    .strictObject(ownFields)
    .optional()
    .describe("the shield's own image, config, env, command, health (with origin: { shield: true })"),
  tls: z
    .strictObject({
      terminate: z
        .enum(["lb", "edges"], {
          error:
            "expected terminate: lb (TLS ends at the load balancer) or edges (the load balancer passes it through to the edges)",
        })
        .describe("where TLS ends: lb, the PoP's load balancer, or edges, each edge behind it"),
      originPull: z
        .boolean()
        .default(false)
        .describe(
          "TLS on the edge-to-origin hop too: the origin serves HTTPS, the edges verify its certificate",
        ),
    })
    .optional()
    .describe("HTTPS at the PoP's entry point, with a certificate of the replica's own CA"),
  dns: z
    .strictObject({
      ttl: duration('"5s" or "1m"')
        .pipe(
          z
            .number()
            .min(1000, { message: "expected a ttl of at least 1s (DNS counts TTLs in whole seconds)" })
            .max(3_600_000, { message: "expected a ttl of at most 1h (a replica's game day is shorter)" }),
        )
        .default(DEFAULT_DNS_TTL_SECONDS * 1000)
        .describe("the TTL of the zone's records, and of its negative answers"),
    })
    .optional()
    .describe(
      "DNS in the replica: a dns service serves faultline.test., the edges resolve the origin through it",
    ),
  links: z
    .strictObject({
      direct: z
        .array(z.string())
        .default([])
        .describe("links that bypass Toxiproxy (no fault can act on them)"),
      between: z
        .array(linkBetweenSchema)
        .default([])
        .describe("links to your own services, each through a Toxiproxy proxy of its own"),
    })
    .optional(),
});
type Fields = z.infer<typeof topologyFields>;
type Issue = (path: (string | number)[], message: string) => void;

/** One PoP (edges) or several (pops), and what goes with each. */
function checkShape(spec: Fields, issue: Issue): void {
  if (spec.pops && spec.edges !== undefined) {
    issue(
      ["edges"],
      "expected either edges (one PoP) or pops (several), not both; move the edges into a PoP",
    );
  }
  if (!spec.pops && spec.edges === undefined) {
    issue([], "expected edges (one PoP, e.g. edges: 3) or pops (several PoPs)");
  }
  if (!spec.pops) {
    if (spec.global) issue(["global"], "expected global only with pops (it steers clients between PoPs)");
    if (spec.origin?.shield) issue(["origin", "shield"], "expected a shield only with pops");
  }
  if (spec.shield && !spec.origin?.shield)
    issue(["shield"], "expected shield: (the shield's own parts) only with origin: { shield: true }");
  if (spec.pops && spec.loadBalancer)
    issue(["loadBalancer"], "expected loadBalancer inside each PoP with pops (pops[].loadBalancer)");
  if (spec.tls && spec.pops)
    issue(["tls"], "expected tls only on a single PoP (edges:); with pops it is not available yet");
  if (spec.tls && spec.loadBalancer?.config !== undefined)
    issue(
      ["tls"],
      "expected tls only with Faultline's load balancer config; bind TLS in your own config instead",
    );
  if (
    spec.tls?.originPull &&
    (spec.origin?.image !== undefined ||
      spec.origin?.build !== undefined ||
      spec.origin?.config !== undefined)
  )
    issue(
      ["tls", "originPull"],
      "expected originPull only with Faultline's origin; serve HTTPS from your own origin and link to it instead",
    );
  if (
    spec.tls?.terminate === "edges" &&
    (spec.edge?.image !== undefined || spec.edge?.build !== undefined || spec.edge?.config !== undefined)
  )
    issue(
      ["tls", "terminate"],
      "expected terminate: edges only with Faultline's edges; with your own edges, use terminate: lb, or serve TLS in your edge config and link to it",
    );
  if (spec.dns && spec.pops)
    issue(["dns"], "expected dns only on a single PoP (edges:); with pops it is not available yet");
  if (spec.dns && spec.edge?.config !== undefined)
    issue(
      ["dns"],
      "expected dns only with Faultline's edge config; resolve the origin through the dns service in your own config instead",
    );
  const policy = spec.global?.policy ?? "primary-backup";
  spec.pops?.forEach((pop, p) => {
    if (policy === "weighted" && pop.role !== undefined)
      issue(
        ["pops", p, "role"],
        "expected role only with global.policy: primary-backup (weighted uses weight)",
      );
    if (policy === "primary-backup" && pop.weight !== undefined)
      issue(
        ["pops", p, "weight"],
        "expected weight only with global.policy: weighted (primary-backup uses role)",
      );
  });
}

/** Every service, PoP and generated name is unique and none is one of the replica's own. */
function checkNames(spec: Fields, issue: Issue): void {
  const seen = new Map<string, string>();
  const claim = (name: string, path: (string | number)[], what: string) => {
    const where = path
      .map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`))
      .join("")
      .replace(/^\./, "");
    const first = seen.get(name);
    if (first !== undefined) {
      issue(path, `expected unique names; "${name}" (${what}) is also ${first}`);
      return;
    }
    if (reserved.includes(name)) {
      issue(
        path,
        `expected a name other than ${reserved.join(", ")} (those are the replica's other services)`,
      );
      return;
    }
    seen.set(name, where);
  };
  if (spec.edges !== undefined)
    edgeNames(undefined, spec.edges).forEach((name, i) => {
      claim(name, Array.isArray(spec.edges) ? ["edges", i] : ["edges"], "an edge");
    });
  for (const name of Object.keys(spec.services ?? {})) claim(name, ["services", name], "a service");
  const duplicatePops = new Set<number>();
  spec.pops?.forEach((pop, p) => {
    if (seen.has(pop.name)) duplicatePops.add(p);
    claim(pop.name, ["pops", p, "name"], "a PoP");
    // A PoP named twice is one error, not four.
    if (duplicatePops.has(p)) return;
    for (const suffix of ["lb", "uplink", "ingress"]) {
      // Checked whichever comes first: pops [a-lb, a] clash as [a, a-lb] do.
      const generated = `${pop.name}-${suffix}`;
      const first = seen.get(generated);
      if (first !== undefined)
        issue(["pops", p, "name"], `expected unique names; "${generated}" (its ${suffix}) is also ${first}`);
      else seen.set(generated, `pops[${p}] (its ${suffix})`);
    }
  });
  spec.pops?.forEach((pop, p) => {
    // Listed names are claimed where they are written; generated ones (edges: N) at `edges`.
    // A PoP whose name is taken already has its error; its generated edges would repeat it.
    if (duplicatePops.has(p)) return;
    edgeNames(pop.name, pop.edges).forEach((name, i) => {
      claim(name, Array.isArray(pop.edges) ? ["pops", p, "edges", i] : ["pops", p, "edges"], "an edge");
    });
  });
}

/** Health checks that HAProxy can keep, the edge count, and a primary PoP. */
function checkLimits(spec: Fields, issue: Issue): void {
  const checks: { check: typeof DEFAULT_CHECK; path: (string | number)[] }[] = [
    { check: spec.loadBalancer?.healthCheck ?? DEFAULT_CHECK, path: ["loadBalancer", "healthCheck"] },
    ...(spec.pops ?? []).map((pop, p) => ({
      check: pop.loadBalancer?.healthCheck ?? DEFAULT_CHECK,
      path: ["pops", p, "loadBalancer", "healthCheck"],
    })),
    { check: spec.global?.healthCheck ?? DEFAULT_CHECK, path: ["global", "healthCheck"] },
  ];
  for (const { check, path } of checks) {
    if (check.interval < 100 || check.timeout < 100)
      issue(path, "expected interval and timeout of at least 100ms");
  }
  const total = spec.pops?.reduce((n, pop) => n + edgeNames(pop.name, pop.edges).length, 0) ?? 0;
  if (total > MAX_EDGES) issue(["pops"], `expected at most ${MAX_EDGES} edges in all, got ${total}`);
  if (spec.pops && (spec.global?.policy ?? "primary-backup") === "primary-backup") {
    const primaries = spec.pops.filter(
      (pop, i) => (pop.role ?? (i === 0 ? "primary" : "backup")) === "primary",
    );
    if (primaries.length === 0) issue(["pops"], "expected at least one PoP with role: primary");
  }
}

/** Each direct link is one of the topology's links. */
function checkDirectLinks(spec: Fields, issue: Issue): void {
  const direct = spec.links?.direct ?? [];
  if (direct.length) {
    let links: string[] = [];
    try {
      links = topologyFromSpec(spec).links.map((l) => l.name);
    } catch {
      return;
    }
    direct.forEach((name, i) => {
      if (!links.includes(name))
        issue(
          ["links", "direct", i],
          `expected the name of one of this topology's links (${links.join(", ")}), got "${name}"`,
        );
    });
  }
}

/** Every group of own parts a topology file may give, with where it is. */
function ownSpecs(spec: Fields): [PathKey[], { image?: string | undefined; build?: unknown }][] {
  return [
    [["loadBalancer"], spec.loadBalancer ?? {}],
    ...(spec.pops ?? []).map((pop, p): [PathKey[], object] => [
      ["pops", p, "loadBalancer"],
      pop.loadBalancer ?? {},
    ]),
    [["global"], spec.global ?? {}],
    [["edge"], spec.edge ?? {}],
    [["origin"], spec.origin ?? {}],
    [["shield"], spec.shield ?? {}],
    ...Object.entries(spec.services ?? {}).map(([name, s]): [PathKey[], typeof s] => [["services", name], s]),
  ];
}

/**
 * A load balancer's settings that only Faultline's own HAProxy config reads are refused next
 * to the user's config (which sets its own, and would silently win), and a stats page is
 * refused without it (Faultline's config has one already).
 */
function checkLoadBalancerSettings(
  path: PathKey[],
  lb: { config?: unknown; stats?: unknown; healthCheck?: unknown; balance?: unknown } | undefined,
  issue: Issue,
): void {
  if (lb === undefined) return;
  const where = path
    .map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`))
    .join("")
    .replace(/^\./, "");
  if (lb.config !== undefined) {
    for (const field of ["healthCheck", "balance"] as const)
      if (lb[field] !== undefined)
        issue(
          [...path, field],
          `expected ${field} only with Faultline's own HAProxy config; your config (${where}.config) sets its own, and this would be ignored`,
        );
  } else if (lb.stats !== undefined)
    issue(
      [...path, "stats"],
      `expected stats only with your own config (${where}.config); Faultline's has its stats page already`,
    );
}

/** Own parts that make sense together: an image or a build, no setting the user's config ignores. */
function checkOwnParts(spec: Fields, issue: Issue): void {
  for (const [path, own] of ownSpecs(spec))
    if (own.image !== undefined && own.build !== undefined)
      issue(
        [...path, "build"],
        "expected image (yours, on this engine) or build (a Dockerfile Faultline builds), not both",
      );
  for (const [name, s] of Object.entries(spec.services ?? {}))
    if (s.image === undefined && s.build === undefined)
      issue(
        ["services", name],
        `expected image: or build: for ${name} (Faultline has no image of its own for it)`,
      );
  checkLoadBalancerSettings(["loadBalancer"], spec.loadBalancer, issue);
  spec.pops?.forEach((pop, p) => {
    checkLoadBalancerSettings(["pops", p, "loadBalancer"], pop.loadBalancer, issue);
  });
  checkLoadBalancerSettings(["global"], spec.global, issue);
}

/** Each declared link names real services, from a client to a service of the user's or the origin. */
function checkLinksBetween(spec: Fields, issue: Issue): void {
  const own = Object.keys(spec.services ?? {});
  const clients = ["edges", "lb", "origin", ...(spec.origin?.shield ? ["shield"] : []), ...own];
  const builtIn = new Set(["origin", ...(Array.isArray(spec.edges) ? spec.edges : [])]);
  const seen = new Set<string>();
  (spec.links?.between ?? []).forEach((link, i) => {
    if (![...own, "origin"].includes(link.to))
      issue(
        ["links", "between", i, "to"],
        `expected one of your services (${own.join(", ") || "none declared under services:"}) or origin, got "${link.to}"`,
      );
    fromList(link.from).forEach((from, j) => {
      if (!clients.includes(from) || from === link.to)
        issue(
          ["links", "between", i, "from", ...(typeof link.from === "string" ? [] : [j])],
          `expected a client other than its target: one of ${clients.filter((c) => c !== link.to).join(", ")}; got "${from}"`,
        );
    });
    const name = link.name ?? link.to;
    if (seen.has(name) || builtIn.has(name) || /^edge-\d+$/.test(name))
      issue(
        ["links", "between", i, link.name ? "name" : "to"],
        `expected a link name no other link has; "${name}" is taken (give it name:)`,
      );
    seen.add(name);
  });
}

export const topologySchema = topologyFields.superRefine((spec, ctx) => {
  const issue: Issue = (path, message) => ctx.addIssue({ code: "custom", path, message });
  checkShape(spec, issue);
  checkNames(spec, issue);
  checkLimits(spec, issue);
  checkDirectLinks(spec, issue);
  checkOwnParts(spec, issue);
  checkLinksBetween(spec, issue);
});
export type TopologySpec = z.infer<typeof topologySchema>;

function edgeNames(prefix: string | undefined, edges: number | string[]): string[] {
  return Array.isArray(edges)
    ? edges
    : Array.from({ length: edges }, (_, i) => (prefix ? `${prefix}-edge-${i + 1}` : `edge-${i + 1}`));
}

const toHealthCheck = (c: typeof DEFAULT_CHECK): HealthCheck => ({
  intervalMs: c.interval,
  timeoutMs: c.timeout,
  fall: c.fall,
  rise: c.rise,
});

/** A load balancer running the user's config checks as that config says: Faultline knows no figures. */
const OWN_CONFIG_CHECK: HealthCheck = { intervalMs: 0, timeoutMs: 0, fall: 0, rise: 0 };

/** The stats page of a load balancer with the user's config (false: none); undefined with Faultline's. */
const statsSetting = (lb: { config?: unknown; stats?: StatsPage | undefined } | undefined) =>
  lb?.config !== undefined ? (lb.stats ?? false) : undefined;

/** Several PoPs behind the global layer, each load balancer Faultline's or the user's. */
function multiFromSpec(spec: Fields, specPops: NonNullable<Fields["pops"]>, replica: string): Topology {
  const policy = spec.global?.policy ?? "primary-backup";
  const pops = specPops.map((pop, i): PopSpec => {
    const lb = pop.loadBalancer;
    const stats = statsSetting(lb);
    return {
      name: pop.name,
      edges: edgeNames(pop.name, pop.edges),
      healthCheck: stats === undefined ? toHealthCheck(lb?.healthCheck ?? DEFAULT_CHECK) : OWN_CONFIG_CHECK,
      balance: lb?.balance ?? "roundrobin",
      weight: pop.weight ?? 1,
      // Only primary-backup has backups; weighted spreads clients by weight alone.
      backup: policy === "primary-backup" && (pop.role ?? (i === 0 ? "primary" : "backup")) === "backup",
      ...(stats !== undefined ? { stats } : {}),
    };
  });
  const globalStats = statsSetting(spec.global);
  return multiPopTopology(replica, {
    pops,
    global: {
      policy,
      healthCheck:
        globalStats === undefined
          ? toHealthCheck(spec.global?.healthCheck ?? DEFAULT_CHECK)
          : OWN_CONFIG_CHECK,
      ...(globalStats !== undefined ? { stats: globalStats } : {}),
    },
    shield: spec.origin?.shield ?? false,
    direct: spec.links?.direct ?? [],
  });
}

/** The replica a topology file describes; `replica` renames it (e.g. `--replica`). */
export function topologyFromSpec(spec: TopologySpec, replica = spec.name): Topology {
  const direct = spec.links?.direct ?? [];
  if (spec.pops) return withUserServices(multiFromSpec(spec, spec.pops, replica), spec);
  const names = edgeNames(undefined, spec.edges ?? 3);
  const base = defaultTopology(replica, names.length);
  const lb = spec.loadBalancer;
  const ownLbConfig = lb?.config !== undefined ? lb : undefined;
  const rename = (name: string) => names[base.edges.indexOf(name)] ?? name;
  const renamed: Topology = {
    ...base,
    edges: names,
    services: base.services.map((s) => (s.role === "edge" ? { ...s, name: rename(s.name) } : s)),
    links: base.links.map((l) =>
      base.edges.includes(l.upstream.service)
        ? { ...l, name: rename(l.name), upstream: { ...l.upstream, service: rename(l.upstream.service) } }
        : l,
    ),
    healthCheck: ownLbConfig ? OWN_CONFIG_CHECK : toHealthCheck(lb?.healthCheck ?? DEFAULT_CHECK),
    balance: lb?.balance ?? "roundrobin",
    ...(ownLbConfig ? { lbStats: ownLbConfig.stats ?? false } : {}),
  };
  if (spec.tls) {
    renamed.tls = { terminate: spec.tls.terminate, ...(spec.tls.originPull ? { originPull: true } : {}) };
    if (spec.tls.originPull)
      renamed.links = renamed.links.map((l) =>
        l.upstream.service === "origin" ? { ...l, upstream: { ...l.upstream, port: ORIGIN_TLS_PORT } } : l,
      );
    if (spec.tls.terminate === "edges")
      renamed.links = renamed.links.map((l) =>
        renamed.edges.includes(l.upstream.service)
          ? { ...l, upstream: { ...l.upstream, port: EDGE_TLS_PORT } }
          : l,
      );
    renamed.services = renamed.services.map((s) =>
      s.role === "lb" ? { ...s, publish: [...s.publish, LB_TLS_PORT] } : s,
    );
  }
  if (spec.dns) {
    renamed.dns = { ttlSeconds: Math.round(spec.dns.ttl / 1000) };
    const last = renamed.services.findIndex((s) => s.role === "prometheus");
    renamed.services.splice(last, 0, {
      name: DNS_SERVICE,
      role: "dns",
      image: imageFor("dns"),
      publish: [],
      publishUdp: [DNS_PORT],
    });
  }
  return withUserServices(
    direct.length
      ? {
          ...renamed,
          links: renamed.links.map((l) => (direct.includes(l.name) ? { ...l, proxied: false } : l)),
        }
      : renamed,
    spec,
  );
}

/** The user's services (services:) and the links to them (links.between), each through Toxiproxy. */
function withUserServices(topology: Topology, spec: Fields): Topology {
  const services = Object.entries(spec.services ?? {}).map(
    ([name, s]): Service => ({ name, role: "service", image: s.image ?? "", publish: [], port: s.port }),
  );
  const portOf = (name: string) => services.find((s) => s.name === name)?.port ?? 80;
  const links = (spec.links?.between ?? []).map(
    (l, i): Link => ({
      name: l.name ?? l.to,
      listenPort: OWN_LINK_BASE_PORT + i + 1,
      upstream: { service: l.to, port: portOf(l.to) },
      from: fromList(l.from).join(", "),
      clients: fromList(l.from).flatMap((f) => (f === "edges" ? topology.edges : [f])),
    }),
  );
  if (!services.length && !links.length) return topology;
  const [last] = topology.services.filter((s) => s.role === "prometheus");
  const pop = topology.services.filter((s) => s !== last);
  return {
    ...topology,
    services: [...pop, ...services, ...(last ? [last] : [])],
    links: [...topology.links, ...links],
  };
}

const fromList = (from: string | string[]) => (typeof from === "string" ? [from] : from);

/** The groups of services that share an own-parts spec, with where each is in the file. */
function ownGroups(topology: Topology, spec: Fields): OwnGroup[] {
  const tag = (group: string) => `faultline/${topology.replica}.${group}:own`;
  const group = (path: PathKey[], services: string[], own: OwnGroup["spec"] | undefined, name: string) =>
    own ? [{ path, services, spec: own, tag: tag(name) }] : [];
  const pops = topology.pops ?? [];
  return [
    ...(topology.pops ? [] : group(["loadBalancer"], ["lb"], spec.loadBalancer, "lb")),
    ...(spec.pops ?? []).flatMap((pop, p) => {
      const lb = pops[p]?.lb ?? `${pop.name}-lb`;
      return group(["pops", p, "loadBalancer"], [lb], pop.loadBalancer, lb);
    }),
    ...(topology.global ? group(["global"], [topology.global.service], spec.global, "global") : []),
    ...group(["edge"], topology.edges, spec.edge, "edge"),
    ...group(["origin"], ["origin"], spec.origin, "origin"),
    ...(topology.shield ? group(["shield"], [topology.shield], spec.shield, "shield") : []),
    ...Object.entries(spec.services ?? {}).flatMap(([name, s]) => group(["services", name], [name], s, name)),
  ];
}

export async function loadTopology(file: string, replica?: string): Promise<Topology> {
  const text = await readInputFile(file, "topology file", "topologies/default.yaml");
  const { data: spec, locate } = parseLocated(file, text, topologySchema);
  let topology = topologyFromSpec(spec, replica);
  for (const group of ownGroups(topology, spec))
    topology = await applyOwnGroup(topology, group, { file, locate });
  return topology;
}

/** Whether an experiment's `replica:` names a topology file rather than a replica. */
export const isTopologyPath = (replica: string) => /\.ya?ml$/.test(replica);

/**
 * The replica an experiment runs against: the topology file its `replica:` names (renamed by
 * `override`), or the built-in PoP with `edges` edges under the name `replica:` gives.
 */
export function replicaFor(
  loaded: {
    experiment: { replica: unknown };
    topology?: Topology | undefined;
    attach?: AttachSettings | undefined;
  },
  override: string | undefined,
  edges: number,
): { name: string; topology: Topology; fromFile: boolean; attach?: AttachSettings } {
  if (loaded.attach) {
    const name = attachName(loaded.attach);
    if (override !== undefined && override !== name)
      throw new InvalidInputError(
        `--replica ${override}: this experiment attaches to ${name}, which keeps its own name`,
        { suggestion: "drop --replica, or change the experiment's replica.attach" },
      );
    return { name, topology: attachedTopology(loaded.attach), fromFile: false, attach: loaded.attach };
  }
  if (loaded.topology) {
    const name = override ?? loaded.topology.replica;
    return { name, topology: renameTopology(loaded.topology, name), fromFile: true };
  }
  const { replica } = loaded.experiment;
  const name = override ?? (typeof replica === "string" ? replica : "default");
  return { name, topology: defaultTopology(name, edges), fromFile: false };
}

function renameTopology(topology: Topology, replica: string): Topology {
  return replica === topology.replica ? topology : { ...topology, replica, network: `faultline-${replica}` };
}

/** Whether a parsed YAML document is shaped as a topology file: one PoP's edges, or pops. */
export function isTopologyDocument(doc: object): boolean {
  return "edges" in doc || "pops" in doc;
}
