import { EnvironmentError, errorMessage } from "../errors.js";
import type { LoadedExperiment } from "../experiments/loader.js";
import { type FaultPlan, planFaults } from "../experiments/plan.js";
import { newSeed } from "../experiments/targets.js";
import { findLeftovers, recoverReplica } from "../recovery/recover.js";
import type { Replica } from "../replica/replica.js";
import type { Topology } from "../replica/topology.js";
import { preflightProbes } from "../steady-state/probe-preflight.js";

/** A fault plan a caller resolved already, and the topology it resolved it against. */
export interface ResolvedPlan {
  faults: FaultPlan;
  topology: Topology;
}

/**
 * The run's fault plan: the caller's, when it was resolved against the topology of the
 * replica the run has (so targets are resolved once per run); otherwise resolved here.
 */
export function resolvePlan(
  loaded: LoadedExperiment,
  replica: Replica,
  seed: number | undefined,
  planned?: ResolvedPlan,
): FaultPlan {
  if (planned && sameTopology(planned.topology, replica.topology)) return planned.faults;
  // A replica reused with another topology than the one planned against (its edges named
  // otherwise, say): its own services are the candidates.
  return planFaults(loaded.experiment, replica.topology, seed ?? planned?.faults.seed ?? newSeed());
}

function sameTopology(a: Topology, b: Topology): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Before anything runs (the caller holds the replica's lock): reverts what crashed runs left
 * when asked to, refuses a replica that still has leftovers, and checks every probe answers.
 */
export async function preflight(
  loaded: LoadedExperiment,
  replica: Replica,
  recoverFirst: boolean,
): Promise<void> {
  const replicaName = replica.topology.replica;
  if (recoverFirst) {
    const { errors } = await recoverReplica(replica);
    if (errors.length > 0) throw new EnvironmentError(`recovering the replica failed: ${errors.join("; ")}`);
  }
  const leftovers = await findLeftovers(replica).catch((error: unknown) => {
    throw new EnvironmentError(`cannot inspect the replica for leftovers: ${errorMessage(error)}`, {
      suggestion: "check `faultline replica status`",
    });
  });
  if (leftovers.length > 0) {
    throw new EnvironmentError(
      `replica ${replicaName} still has what an earlier run left: ${leftovers.join("; ")}`,
      {
        suggestion: "run `faultline recover` to revert it (or `faultline run --recover`), then run again",
      },
    );
  }
  await preflightProbes(loaded, replica);
}
