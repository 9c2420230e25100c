import { z } from "zod";
import { InvalidInputError } from "../errors.js";
import { parseYamlWithSchema, readInputFile } from "../format/located-yaml.js";
import { duration } from "../format/unit-schemas.js";
import { type AttachSettings, attachedTopology, attachName } from "./attach.js";
import {
  defaultTopology,
  type HealthCheck,
  MAX_EDGES,
  multiPopTopology,
  type PopSpec,
  type Topology,
} from "./topology.js";

// Topology files: the shape of a replica in YAML, validated with the same located errors as
// experiments. The built-in PoP is topologies/default.yaml; `faultline replica up --topology`
// and an experiment's `replica: path/to/topology.yaml` use them.

const serviceName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,30}$/, { message: "expected a lowercase name of letters, digits and dashes" });
const reserved = ["lb", "origin", "toxiproxy", "prometheus", "global", "shield"];

export const balances = ["roundrobin", "leastconn"] as const;
export const policies = ["primary-backup", "weighted"] as const;

const DEFAULT_CHECK = { interval: 1000, timeout: 2000, fall: 2, rise: 2 };

const healthCheckSchema = (what: string) =>
  z
    .strictObject({
      interval: duration().default(1000).describe(`time between two checks of ${what}`),
      timeout: duration().default(2000).describe("how long one check may take"),
      fall: z.number().int().min(1).max(100).default(2).describe(`failed checks before ${what} is down`),
      rise: z.number().int().min(1).max(100).default(2).describe("passed checks before it is up again"),
    })
    .default(DEFAULT_CHECK);

const edgesSchema = z
  .union(
    [
      z.number().int().min(1, { message: "expected at least one edge" }).max(MAX_EDGES),
      z.array(serviceName).min(1, { message: "expected at least one edge" }).max(MAX_EDGES),
    ],
    { error: `expected a number of edges (1 to ${MAX_EDGES}) or a list of edge names` },
  )
  .describe("how many edges (edge-1, edge-2, ...) or their names");

const loadBalancerFields = z.strictObject({
  balance: z
    .enum(balances, { error: `expected balance to be one of ${balances.join(", ")}` })
    .default("roundrobin"),
  healthCheck: healthCheckSchema("an edge"),
});
const DEFAULT_LB = { balance: "roundrobin", healthCheck: DEFAULT_CHECK } as const;
const loadBalancerSchema = loadBalancerFields.default(DEFAULT_LB);

const popSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]{0,19}$/, {
    message: "expected a PoP name of lowercase letters, digits and dashes (at most 20)",
  }),
  edges: edgesSchema,
  loadBalancer: loadBalancerSchema,
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
    .regex(/^[a-z0-9][a-z0-9-]{0,30}$/, {
      message: "expected a replica name of lowercase letters, digits and dashes (at most 31)",
    })
    .describe("the replica's name: its containers are faultline-<name>-<service>"),
  description: z.string().optional(),
  edges: edgesSchema.optional(),
  loadBalancer: loadBalancerFields
    .optional()
    .describe("the single PoP's load balancer (with pops: each PoP's own)"),
  pops: z
    .array(popSchema)
    .min(2, { message: "expected at least two PoPs (a single PoP is `edges:` without `pops:`)" })
    .optional()
    .describe("several PoPs behind a global traffic layer"),
  global: z
    .strictObject({
      policy: z
        .enum(policies, { error: `expected policy to be one of ${policies.join(", ")}` })
        .default("primary-backup"),
      healthCheck: healthCheckSchema("a PoP"),
    })
    .optional()
    .describe("the global traffic layer in front of the PoPs"),
  origin: z
    .strictObject({
      shield: z.boolean().default(false).describe("put a shield PoP in front of the origin"),
    })
    .optional(),
  links: z
    .strictObject({
      direct: z
        .array(z.string())
        .default([])
        .describe("links that bypass Toxiproxy (no fault can act on them)"),
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
  if (spec.pops && spec.loadBalancer)
    issue(["loadBalancer"], "expected loadBalancer inside each PoP with pops (pops[].loadBalancer)");
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
  if (Array.isArray(spec.edges))
    spec.edges.forEach((name, i) => {
      claim(name, ["edges", i], "an edge");
    });
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
    { check: (spec.loadBalancer ?? DEFAULT_LB).healthCheck, path: ["loadBalancer", "healthCheck"] },
    ...(spec.pops ?? []).map((pop, p) => ({
      check: pop.loadBalancer.healthCheck,
      path: ["pops", p, "loadBalancer", "healthCheck"],
    })),
    ...(spec.global ? [{ check: spec.global.healthCheck, path: ["global", "healthCheck"] }] : []),
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

export const topologySchema = topologyFields.superRefine((spec, ctx) => {
  const issue: Issue = (path, message) => ctx.addIssue({ code: "custom", path, message });
  checkShape(spec, issue);
  checkNames(spec, issue);
  checkLimits(spec, issue);
  checkDirectLinks(spec, issue);
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

/** The replica a topology file describes; `replica` renames it (e.g. `--replica`). */
export function topologyFromSpec(spec: TopologySpec, replica = spec.name): Topology {
  const direct = spec.links?.direct ?? [];
  if (spec.pops) {
    const pops = spec.pops.map(
      (pop, i): PopSpec => ({
        name: pop.name,
        edges: edgeNames(pop.name, pop.edges),
        healthCheck: toHealthCheck(pop.loadBalancer.healthCheck),
        balance: pop.loadBalancer.balance,
        weight: pop.weight ?? 1,
        // Only primary-backup has backups; weighted spreads clients by weight alone.
        backup:
          (spec.global?.policy ?? "primary-backup") === "primary-backup" &&
          (pop.role ?? (i === 0 ? "primary" : "backup")) === "backup",
      }),
    );
    return multiPopTopology(replica, {
      pops,
      global: {
        policy: spec.global?.policy ?? "primary-backup",
        healthCheck: toHealthCheck(spec.global?.healthCheck ?? DEFAULT_CHECK),
      },
      shield: spec.origin?.shield ?? false,
      direct,
    });
  }
  const names = edgeNames(undefined, spec.edges ?? 3);
  const base = defaultTopology(replica, names.length);
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
    healthCheck: toHealthCheck((spec.loadBalancer ?? DEFAULT_LB).healthCheck),
    balance: (spec.loadBalancer ?? DEFAULT_LB).balance,
  };
  return direct.length
    ? {
        ...renamed,
        links: renamed.links.map((l) => (direct.includes(l.name) ? { ...l, proxied: false } : l)),
      }
    : renamed;
}

export async function loadTopology(file: string, replica?: string): Promise<Topology> {
  const text = await readInputFile(file, "topology file", "topologies/default.yaml");
  return topologyFromSpec(parseYamlWithSchema(file, text, topologySchema), replica);
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
