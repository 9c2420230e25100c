import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import type { RandomGenerator } from "pure-rand/types/RandomGenerator";
import { InvalidInputError } from "../errors.js";
import { LABEL_POP, serviceLabels } from "../replica/docker.js";
import { linkNames, type Role, TARGET_ROLES, type Topology } from "../replica/topology.js";
import type { Target } from "./schema.js";

/** Services a fault may act on: the replica's own PoP services and its DNS (DNS faults), never its instruments. */
const TARGETABLE: readonly Role[] = TARGET_ROLES;

export interface Candidate {
  service: string;
  role: Role;
  labels: Record<string, string>;
}

export function candidatesOf(topology: Topology): Candidate[] {
  return topology.services
    .filter((s) => TARGETABLE.includes(s.role))
    .map((s) => ({ service: s.name, role: s.role, labels: serviceLabels(topology, s) }));
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
  if (target.kind === "name") return [checkedName(target.name, topology)];
  if (target.kind === "pop") {
    const link = popLink(target, topology);
    if (link) return [link];
  }
  const candidates = candidatesOf(topology);
  const matching = matchingOf(target, topology, candidates);
  const chosen = new Set(pickSeeded(target, matching, rng));
  return candidates.map((c) => c.service).filter((n) => chosen.has(n));
}

/** A service or link by name (a link such as pop-b-uplink, for the faults that act on links). */
function checkedName(name: string, topology: Topology): string {
  const names = candidatesOf(topology).map((c) => c.service);
  if (names.includes(name) || linkNames(topology).includes(name)) return name;
  throw new InvalidInputError(
    `no ${topology.pops ? "service or link" : "service"} "${name}" to target in replica ${topology.replica}`,
    {
      suggestion: `target one of: ${names.join(", ")} (or a role: lb, edge, origin)${topology.pops ? `; links: ${linkNames(topology).join(", ")}` : ""}`,
    },
  );
}

type PopTarget = Extract<Target, { kind: "pop" }>;

/** The PoP a target names (an error when there is none), and its link when it names one. */
function popLink(target: PopTarget, topology: Topology): string | undefined {
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
  if (!target.link) return undefined;
  // Checked here, not in the schema: a refinement inside the target union would be lost
  // behind the union's generic message.
  if (target.role || target.pick !== undefined || target.percent !== undefined)
    throw new InvalidInputError(`a PoP's ${target.link} is one link: it takes no role, pick or percent`, {
      suggestion: `{ pop: ${target.pop}, link: ${target.link} } alone, or { pop: ${target.pop}, pick: 1 } for its edges`,
    });
  return target.link === "uplink" ? pop.uplink : pop.ingress;
}

type SelectionTarget = Exclude<Target, { kind: "name" }>;

/** The candidates a role, PoP or labels target selects; none is an error. */
function matchingOf(target: SelectionTarget, topology: Topology, candidates: Candidate[]): Candidate[] {
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
  if (matching.length > 0) return matching;
  if (target.kind === "labels" && topology.attach && !Object.keys(topology.attach.containers).length)
    throw new InvalidInputError(
      `labels ${JSON.stringify(target.labels)}: an attached stack's labels are its containers' own, read from Docker when it is found`,
      {
        suggestion:
          "run the experiment (or `faultline plan`) with the stack up; or target a service by name or role",
      },
    );
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

/** `pick` or `percent` of the matching services, chosen by the seeded generator. */
function pickSeeded(target: SelectionTarget, matching: Candidate[], rng: RandomGenerator): string[] {
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
  // Partial Fisher-Yates shuffle driven by the seeded generator.
  const pool = matching.map((c) => c.service);
  for (let i = 0; i < count; i++) {
    const j = uniformInt(rng, i, pool.length - 1);
    [pool[i], pool[j]] = [pool[j] as string, pool[i] as string];
  }
  return pool.slice(0, count);
}
