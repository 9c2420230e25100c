import type { Experiment } from "../experiments/schema.js";
import type { Journal } from "../journal/journal.js";
import { CleanupRegistry } from "../lifecycle/cleanup-registry.js";
import { authorityCertFile } from "../replica/certificates.js";
import type { Replica } from "../replica/replica.js";
import { probeKey } from "../steady-state/checks.js";
import { startLbProbe } from "../steady-state/lb-probe.js";
import type { LoadDriver, RunningLoad } from "../steady-state/load-driver.js";
import { type ScheduledProbe, startProbes } from "../steady-state/probes.js";
import type { FaultSession } from "./fault-session.js";
import {
  attachedContainers,
  type ReplicaGuard,
  replicaContainers,
  startReplicaGuard,
} from "./replica-guard.js";
import type { RunLoop } from "./run-loop.js";
import { startSeries } from "./series.js";

export interface Instruments {
  /** Stops the load and the probes: drained after the faults' registry, whatever it threw. */
  registry: CleanupRegistry;
  load: RunningLoad;
  probes: { stop(options?: { waitForInFlight?: boolean }): Promise<void> } | undefined;
  guard: ReplicaGuard;
}

/** The run's series for Prometheus, removed last (the registry drains newest first). */
function exportSeries(
  context: { experiment: Experiment; replica: Replica; journal: Journal; runId: string },
  registry: CleanupRegistry,
): void {
  const { journal } = context;
  const series = startSeries({
    replica: context.replica,
    runId: context.runId,
    experiment: context.experiment.name,
    onError: (problem) => journal.write({ type: "series", problem }),
  });
  if (typeof series === "string") {
    journal.write({ type: "series", problem: series });
    return;
  }
  journal.write({ type: "series", where: series.where });
  journal.onEvent((event) => series.onEvent(event));
  registry.register("remove the run's series", () => series.close());
}

/**
 * Starts what measures the run, in this order: the load, the load balancer probe, the
 * experiment's probes (each stopped by a cleanup registry of their own, so that a fault
 * revert that runs out of time never leaves them running), and the replica guard.
 */
export function startInstruments(context: {
  experiment: Experiment;
  replica: Replica;
  journal: Journal;
  runId: string;
  loop: RunLoop;
  session: FaultSession;
  driver: LoadDriver;
  url: string;
  maxLoadMs: number;
}): Instruments {
  const { experiment, replica, journal, loop, session } = context;
  const registry = new CleanupRegistry();
  try {
    exportSeries(context, registry);
    const load = context.driver.start(
      {
        url: context.url,
        ratePerSecond: experiment.load.rate,
        stages: experiment.load.stages,
        ...(experiment.load.mix ? { requests: experiment.load.requests } : {}),
        cacheBust: experiment.load.cacheBust,
        maxConnections: experiment.load.maxConnections,
        http2: experiment.load.http2,
        maxDurationMs: context.maxLoadMs,
        timeoutMs: experiment.load.timeout,
        connection: experiment.load.connection,
        ...(experiment.load.https ? { caFile: authorityCertFile(replica.topology.replica) } : {}),
      },
      (sample) => loop.addSample(sample),
    );
    registry.register("stop the load", async () => {
      load.stop();
      await load.finished;
    });
    const lbProbe = startLbProbe(replica, (change) =>
      change.pop
        ? journal.write({ type: "pop-state", pop: change.edge, state: change.state })
        : journal.write({ type: "lb-state", edge: change.edge, state: change.state }),
    );
    registry.register("stop the load balancer probe", () => lbProbe.stop());
    const scheduled: ScheduledProbe[] = [
      ...experiment.steadyState.checks.map((c) => ({ key: probeKey("check", c.name), probe: c.probe })),
      ...experiment.abort.map((c) => ({ key: probeKey("abort", c.name), probe: c.probe })),
    ].flatMap((p) => (p.probe ? [{ key: p.key, probe: p.probe }] : []));

    const probes =
      scheduled.length > 0
        ? startProbes(scheduled, replica, loop.t0, (sample) => loop.addProbeSample(sample))
        : undefined;
    if (probes) registry.register("stop the probes", () => probes.stop());
    const guard = startReplicaGuard({
      list: replica.topology.attach
        ? attachedContainers(replica.topology.attach.containers)
        : replicaContainers(replica.topology.replica),
      excused: () => session.touchedServices(),
    });
    loop.watchReplica(guard);
    return { registry, load, probes, guard };
  } catch (error) {
    // What started before the failure is stopped: the run that would drain it never begins.
    void registry.drain().catch(() => {});
    throw error;
  }
}
