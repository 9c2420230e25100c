import { InvalidInputError } from "../errors.js";
import { kindOf } from "../faults/registry.js";
import { popViews, type Topology } from "../replica/topology.js";
import { formatDuration } from "../units.js";
import type { Experiment, Fault } from "./schema.js";
import { resolveTarget, seededRandom } from "./targets.js";

/** One fault acting on one service, at a time on the inject timeline. */
export interface PlannedAction {
  /** "f1" for a fault with one target; "f2.edge-3" when a fault resolves to several. */
  id: string;
  /** Index of the fault in the experiment's `method`. */
  index: number;
  fault: Fault;
  service: string;
  atMs: number;
  untilMs: number;
  description: string;
  revert: string;
  disruptive: boolean;
}

export interface FaultPlan {
  seed: number;
  actions: PlannedAction[];
}

/**
 * Resolves every fault's target (seeded, so a run can be replayed with --seed), checks each
 * action against the topology, and enforces the capacity guard. Touches nothing.
 */
export function planFaults(experiment: Experiment, topology: Topology, seed: number): FaultPlan {
  const unknown = unknownPops(experiment, topology)[0];
  if (unknown)
    throw new InvalidInputError(`${unknown.path}: ${unknown.message}`, { suggestion: unknown.suggestion });
  return planActions(experiment.method, topology, seed, experiment.safety.minHealthyEdges);
}

/** Checks and abort conditions measuring a PoP (traffic.share) the topology does not have. */
export function unknownPops(
  experiment: Experiment,
  topology: Topology,
): { path: string; at: (string | number)[]; message: string; suggestion: string }[] {
  const known = topology.pops?.map((p) => p.name) ?? [];
  const conditions = [
    ...experiment.steadyState.checks.map((c, i) => ({ c, at: ["steadyState", "checks", i, "pop"] })),
    ...experiment.abort.map((c, i) => ({ c, at: ["abort", i, "pop"] })),
  ];
  return conditions
    .filter(({ c }) => c.pop !== undefined && !known.includes(c.pop))
    .map(({ c, at }) => ({
      at,
      path: at.map((k, i) => (typeof k === "number" ? `[${k}]` : i ? `.${k}` : k)).join(""),
      message: known.length
        ? `replica ${topology.replica} has no PoP "${c.pop}"`
        : `replica ${topology.replica} is a single PoP: there is no PoP "${c.pop}" to measure`,
      suggestion: known.length
        ? `its PoPs: ${known.join(", ")}`
        : "name a multi-PoP topology file with `replica:` (e.g. topologies/two-pops.yaml)",
    }));
}

/** The same for a bare list of faults (what `faultline inject` builds from its flags). */
export function planActions(
  method: readonly Fault[],
  topology: Topology,
  seed: number,
  minHealthyEdges: number,
): FaultPlan {
  const rng = seededRandom(seed);
  const actions: PlannedAction[] = [];
  method.forEach((fault, index) => {
    const services = located(`method[${index}].target`, () => resolveTarget(fault.target, topology, rng));
    const injector = kindOf(fault);
    for (const service of services) {
      located(`method[${index}]`, () => injector.check(fault, service, topology));
      actions.push({
        id: services.length === 1 ? `f${index + 1}` : `f${index + 1}.${service}`,
        index,
        fault,
        service,
        atMs: fault.at,
        untilMs: fault.at + fault.for,
        description: injector.describe(fault, service, topology),
        revert: injector.describeRevert(fault, service, topology),
        disruptive: injector.disruptive(fault),
      });
    }
  });
  guardCapacity(actions, topology, minHealthyEdges);
  guardExclusive(actions, topology);
  return { seed, actions };
}

/**
 * Two actions on one target that need the same mechanism, one that takes one at a time, must
 * not overlap (two route rules; not a route rule and a certificate).
 */
function guardExclusive(actions: readonly PlannedAction[], topology: Topology): void {
  actions.forEach((a, i) => {
    const mechanism = kindOf(a.fault).exclusive?.(topology);
    if (!mechanism) return;
    const clash = actions
      .slice(0, i)
      .find(
        (b) =>
          b.service === a.service &&
          b.atMs < a.untilMs &&
          a.atMs < b.untilMs &&
          kindOf(b.fault).exclusive?.(topology) === mechanism,
      );
    if (clash)
      throw new InvalidInputError(
        `method[${a.index}]: ${a.fault.fault} on ${a.service} overlaps ${clash.id} (${clash.fault.fault}), and on this stack each needs ${mechanism}, one at a time`,
        { suggestion: `give them separate times (at:, for:), or target another service` },
      );
  });
}

/** Names the fault an error is about: `method[2].target: ...`. */
function located<T>(where: string, action: () => T): T {
  try {
    return action();
  } catch (error) {
    if (error instanceof InvalidInputError && !/^method\[/.test(error.message))
      throw new InvalidInputError(`${where}: ${error.message}`, {
        ...(error.suggestion ? { suggestion: error.suggestion } : {}),
        cause: error,
      });
    throw error;
  }
}

function guardCapacity(actions: readonly PlannedAction[], topology: Topology, minHealthyEdges: number): void {
  const disruptive = actions.filter((a) => a.disruptive);
  // The moments that matter are when a disruptive action starts.
  for (const start of disruptive) {
    const active = disruptive.filter((a) => a.atMs <= start.atMs && start.atMs < a.untilMs);
    const byService = new Map<string, PlannedAction[]>();
    for (const a of active) byService.set(a.service, [...(byService.get(a.service) ?? []), a]);
    for (const [service, overlapping] of byService) {
      if (overlapping.length > 1) {
        throw new InvalidInputError(
          `${overlapping.map((a) => a.id).join(" and ")} would both take ${service} out of service at +${formatDuration(start.atMs)}`,
          { suggestion: "give them separate `at` windows, or one fault with a longer `for`" },
        );
      }
    }
    // An edge serves no one while it, its PoP's load balancer or the global layer is out.
    const out = new Set(byService.keys());
    const front = topology.global?.service;
    const lbOut = (edge: string) => popViews(topology).some((p) => p.edges.includes(edge) && out.has(p.lb));
    const edgesDown = topology.edges.filter(
      (e) => out.has(e) || lbOut(e) || (front !== undefined && out.has(front)),
    );
    const serving = topology.edges.length - edgesDown.length;
    if (serving < minHealthyEdges) {
      const causes = [...out].filter(
        (s) => topology.edges.includes(s) || s === front || popViews(topology).some((p) => p.lb === s),
      );
      throw new InvalidInputError(
        `at +${formatDuration(start.atMs)} the plan would leave ${serving} of ${topology.edges.length} edges serving (${causes.join(", ")} disrupted); safety.minHealthyEdges is ${minHealthyEdges}`,
        {
          suggestion:
            "target fewer edges at once (pick/percent), stagger the faults, or lower safety.minHealthyEdges deliberately (0 allows a whole-PoP outage)",
        },
      );
    }
  }
}
