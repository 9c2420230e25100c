import { z } from "zod";
import { parseYamlWithSchema, readInputFile } from "../experiments/loader.js";
import { duration } from "../experiments/schema-units.js";
import { defaultTopology, MAX_EDGES, type Topology } from "./topology.js";

// Topology files: the shape of a replica in YAML, validated with the same located errors as
// experiments. The built-in PoP is topologies/default.yaml; `faultline replica up --topology`
// and an experiment's `replica: path/to/topology.yaml` use them.

const serviceName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,30}$/, { message: "expected a lowercase name of letters, digits and dashes" });
const reserved = ["lb", "origin", "toxiproxy", "prometheus"];

export const balances = ["roundrobin", "leastconn"] as const;

export const topologySchema = z
  .strictObject({
    version: z.literal(1, { error: "expected version: 1" }),
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,30}$/, {
        message: "expected a replica name of lowercase letters, digits and dashes (at most 31)",
      })
      .describe("the replica's name: its containers are faultline-<name>-<service>"),
    description: z.string().optional(),
    edges: z
      .union(
        [
          z.number().int().min(1).max(MAX_EDGES),
          z.array(serviceName).min(1, { message: "expected at least one edge" }).max(MAX_EDGES),
        ],
        { error: `expected a number of edges (1 to ${MAX_EDGES}) or a list of edge names` },
      )
      .describe("how many edges (edge-1, edge-2, ...) or their names"),
    loadBalancer: z
      .strictObject({
        balance: z
          .enum(balances, { error: `expected balance to be one of ${balances.join(", ")}` })
          .default("roundrobin"),
        healthCheck: z
          .strictObject({
            interval: duration().default(1000).describe("time between two checks of an edge"),
            timeout: duration().default(2000).describe("how long one check may take"),
            fall: z
              .number()
              .int()
              .min(1)
              .max(100)
              .default(2)
              .describe("failed checks before an edge is down"),
            rise: z.number().int().min(1).max(100).default(2).describe("passed checks before it is up again"),
          })
          .default({ interval: 1000, timeout: 2000, fall: 2, rise: 2 }),
      })
      .default({ balance: "roundrobin", healthCheck: { interval: 1000, timeout: 2000, fall: 2, rise: 2 } }),
  })
  .superRefine((spec, ctx) => {
    if (!Array.isArray(spec.edges)) return;
    spec.edges.forEach((name, index) => {
      const first = (spec.edges as string[]).indexOf(name);
      if (first !== index) {
        ctx.addIssue({
          code: "custom",
          path: ["edges", index],
          message: `expected edge names to be unique; "${name}" is also edges[${first}]`,
        });
      }
      if (reserved.includes(name)) {
        ctx.addIssue({
          code: "custom",
          path: ["edges", index],
          message: `expected an edge name other than ${reserved.join(", ")} (those are the PoP's other services)`,
        });
      }
    });
    const { interval, timeout } = spec.loadBalancer.healthCheck;
    if (interval < 100 || timeout < 100) {
      ctx.addIssue({
        code: "custom",
        path: ["loadBalancer", "healthCheck"],
        message: "expected interval and timeout of at least 100ms",
      });
    }
  });
export type TopologySpec = z.infer<typeof topologySchema>;

/** The replica a topology file describes; `replica` renames it (e.g. `--replica`). */
export function topologyFromSpec(spec: TopologySpec, replica = spec.name): Topology {
  const names = Array.isArray(spec.edges)
    ? spec.edges
    : Array.from({ length: spec.edges }, (_, i) => `edge-${i + 1}`);
  const base = defaultTopology(replica, names.length);
  const rename = (name: string) => names[base.edges.indexOf(name)] ?? name;
  const { interval, timeout, fall, rise } = spec.loadBalancer.healthCheck;
  return {
    ...base,
    edges: names,
    services: base.services.map((s) => (s.role === "edge" ? { ...s, name: rename(s.name) } : s)),
    links: base.links.map((l) =>
      base.edges.includes(l.upstream.service)
        ? { ...l, name: rename(l.name), upstream: { ...l.upstream, service: rename(l.upstream.service) } }
        : l,
    ),
    healthCheck: { intervalMs: interval, timeoutMs: timeout, fall, rise },
    balance: spec.loadBalancer.balance,
  };
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
  loaded: { experiment: { replica: string }; topology?: Topology | undefined },
  override: string | undefined,
  edges: number,
): { name: string; topology: Topology; fromFile: boolean } {
  if (loaded.topology) {
    const name = override ?? loaded.topology.replica;
    return { name, topology: renameTopology(loaded.topology, name), fromFile: true };
  }
  const name = override ?? loaded.experiment.replica;
  return { name, topology: defaultTopology(name, edges), fromFile: false };
}

function renameTopology(topology: Topology, replica: string): Topology {
  return replica === topology.replica ? topology : { ...topology, replica, network: `faultline-${replica}` };
}
