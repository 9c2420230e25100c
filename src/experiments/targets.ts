import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import type { RandomGenerator } from "pure-rand/types/RandomGenerator";
import { InvalidInputError } from "../errors.js";
import { LABEL_REPLICA, LABEL_ROLE, LABEL_SERVICE } from "../replica/docker.js";
import type { Role, Topology } from "../replica/topology.js";
import type { Target } from "./schema.js";

/** Services a fault may act on: the replica's own PoP services, never its instruments. */
const TARGETABLE: readonly Role[] = ["lb", "edge", "origin"];

export interface Candidate {
  service: string;
  role: Role;
  labels: Record<string, string>;
}

export function candidatesOf(topology: Topology): Candidate[] {
  return topology.services
    .filter((s) => TARGETABLE.includes(s.role))
    .map((s) => ({
      service: s.name,
      role: s.role,
      labels: { [LABEL_REPLICA]: topology.replica, [LABEL_ROLE]: s.role, [LABEL_SERVICE]: s.name },
    }));
}

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
    if (!names.includes(target.name)) {
      throw new InvalidInputError(`no service "${target.name}" to target in replica ${topology.replica}`, {
        suggestion: `target one of: ${names.join(", ")} (or a role: lb, edge, origin)`,
      });
    }
    return [target.name];
  }
  const matching =
    target.kind === "role"
      ? candidates.filter((c) => c.role === target.role)
      : candidates.filter((c) => Object.entries(target.labels).every(([k, v]) => c.labels[k] === v));
  if (matching.length === 0) {
    const what = target.kind === "role" ? `role ${target.role}` : `labels ${JSON.stringify(target.labels)}`;
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
