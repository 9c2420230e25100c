import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import type { RandomGenerator } from "pure-rand/types/RandomGenerator";
import { InvalidInputError } from "../errors.js";
import { LABEL_REPLICA, LABEL_ROLE, LABEL_SERVICE } from "../replica/docker.js";
import { linkNames, POP_ROLES, popOf, type Role, type Topology } from "../replica/topology.js";
import type { Target } from "./schema.js";

/** Services a fault may act on: the replica's own PoP services, never its instruments. */
const TARGETABLE: readonly Role[] = POP_ROLES;

export interface Candidate {
  service: string;
  role: Role;
  labels: Record<string, string>;
}

export function candidatesOf(topology: Topology): Candidate[] {
  return topology.services
    .filter((s) => TARGETABLE.includes(s.role))
    .map((s) => {
      const pop = popOf(topology, s.name)?.name;
      return {
        service: s.name,
        role: s.role,
        labels: {
          [LABEL_REPLICA]: topology.replica,
          [LABEL_ROLE]: s.role,
          [LABEL_SERVICE]: s.name,
          ...(pop ? { [LABEL_POP]: pop } : {}),
        },
      };
    });
}

/** The label a multi-PoP replica's services carry for their PoP (label targets may use it). */
export const LABEL_POP = "faultline.pop";

/** A seeded generator: the same seed picks the same targets, so a run can be replayed. */
export function seededRandom(seed: number): RandomGenerator {
  return xoroshiro128plus(seed);
}

export function newSeed(): number {
  return Math.floor(Math.random() * 0x7fffffff);
}

/** Resolves a target to service names; an empty selection is an error listing the candidates. */
export function resolveTarget(target: Target, topology: Topology, rng: RandomGenerator): string[] {
  const candidates = candidatesOf(topology);
  const names = candidates.map((c) => c.service);
  if (target.kind === "name") {
    // A link (e.g. pop-b-uplink) is a target too, for the faults that act on links.
    if (!names.includes(target.name) && !linkNames(topology).includes(target.name)) {
      throw new InvalidInputError(
        `no ${topology.pops ? "service or link" : "service"} "${target.name}" to target in replica ${topology.replica}`,
        {
          suggestion: `target one of: ${names.join(", ")} (or a role: lb, edge, origin)${topology.pops ? `; links: ${linkNames(topology).join(", ")}` : ""}`,
        },
      );
    }
    return [target.name];
  }
  if (target.kind === "pop") {
    const pop = topology.pops?.find((p) => p.name === target.pop);
    if (!pop) {
      throw new InvalidInputError(
        topology.pops
          ? `replica ${topology.replica} has no PoP "${target.pop}"`
          : `replica ${topology.replica} is a single PoP: there is no PoP "${target.pop}" to target`,
        {
          suggestion: topology.pops
            ? `its PoPs: ${topology.pops.map((p) => p.name).join(", ")}`
            : "name a multi-PoP topology file with `replica:` (e.g. topologies/two-pops.yaml), or target edges by name or role",
        },
      );
    }
    if (target.link) {
      // Checked here, not in the schema: a refinement inside the target union would be lost
      // behind the union's generic message.
      if (target.role || target.pick !== undefined || target.percent !== undefined)
        throw new InvalidInputError(`a PoP's ${target.link} is one link: it takes no role, pick or percent`, {
          suggestion: `{ pop: ${target.pop}, link: ${target.link} } alone, or { pop: ${target.pop}, pick: 1 } for its edges`,
        });
      return [target.link === "uplink" ? pop.uplink : pop.ingress];
    }
  }
  const matching =
    target.kind === "role"
      ? candidates.filter((c) => c.role === target.role)
      : target.kind === "pop"
        ? candidates.filter((c) =>
            (target.role ?? "edge") === "lb"
              ? c.service === topology.pops?.find((p) => p.name === target.pop)?.lb
              : c.role === "edge" && c.labels[LABEL_POP] === target.pop,
          )
        : candidates.filter((c) => Object.entries(target.labels).every(([k, v]) => c.labels[k] === v));
  if (matching.length === 0) {
    const what =
      target.kind === "role"
        ? `role ${target.role}`
        : target.kind === "pop"
          ? `PoP ${target.pop}`
          : `labels ${JSON.stringify(target.labels)}`;
    throw new InvalidInputError(`no service of replica ${topology.replica} matches ${what}`, {
      suggestion: `candidates: ${candidates.map((c) => `${c.service} (role ${c.role})`).join(", ")}`,
    });
  }
  const count =
    target.pick !== undefined
      ? target.pick
      : target.percent !== undefined
        ? Math.max(1, Math.round(matching.length * target.percent))
        : matching.length;
  if (count > matching.length) {
    throw new InvalidInputError(`cannot pick ${count} of ${matching.length} matching services`, {
      suggestion: `matching: ${matching.map((c) => c.service).join(", ")}`,
    });
  }
  // Partial Fisher-Yates shuffle driven by the seeded generator, then keep the topology's order.
  const pool = matching.map((c) => c.service);
  for (let i = 0; i < count; i++) {
    const j = uniformInt(rng, i, pool.length - 1);
    [pool[i], pool[j]] = [pool[j] as string, pool[i] as string];
  }
  const chosen = new Set(pool.slice(0, count));
  return names.filter((n) => chosen.has(n));
}
