import { errorMessage } from "../errors.js";
import { LABEL_ROLE, LABEL_SERVICE, labelFilter } from "../replica/docker.js";
import { engine } from "../replica/engine.js";
import { SERVICE_ROLES } from "../replica/topology.js";

// The replica guard: while a run holds a replica, it checks once a second that the Docker
// engine answers and that every service container of the replica is still the one the run
// started with, running. A run whose engine went away (a daemon restart stops every
// container) or whose replica changed under it cannot judge anything: it ends `errored` at
// once instead of measuring a dead replica for the rest of its timeline.

export interface ServiceContainer {
  service: string;
  id: string;
  /** Docker's state: running, paused, exited, ... */
  state: string;
}

export interface ReplicaGuardOptions {
  /** The replica's service containers. Rejects when the engine does not answer. */
  list: (signal: AbortSignal) => Promise<ServiceContainer[]>;
  /** Services a fault of the run may have stopped or paused right now. */
  excused: () => ReadonlySet<string>;
  intervalMs?: number;
  /** How long one look may take before it counts as unanswered. */
  timeoutMs?: number;
  /** Unanswered looks in a row before the engine counts as lost. */
  misses?: number;
}

export interface ReplicaGuard {
  /** Why the run cannot go on; undefined while the engine answers and the replica is whole. */
  problem(): string | undefined;
  stop(): void;
}

const WATCHED_ROLES: ReadonlySet<string> = new Set(SERVICE_ROLES);

/** Lists a replica's service containers (not netfilter sidecars, not unlabelled ones). */
export function replicaContainers(replica: string): ReplicaGuardOptions["list"] {
  return async (signal) => {
    const containers = await engine().listContainers(
      { all: true, filters: labelFilter(replica) },
      { signal },
    );
    return containers
      .filter((c) => WATCHED_ROLES.has(c.Labels[LABEL_ROLE] ?? ""))
      .map((c) => ({ service: c.Labels[LABEL_SERVICE] ?? c.Id, id: c.Id, state: c.State }));
  };
}

/** An attached stack's mapped containers, by the ids discovery found. */
export function attachedContainers(containers: Record<string, string>): ReplicaGuardOptions["list"] {
  return async (signal) => {
    const ids = Object.values(containers);
    const listed = await engine().listContainers({ all: true, filters: { id: ids } }, { signal });
    return Object.entries(containers).flatMap(([service, id]) => {
      const c = listed.find((x) => x.Id === id);
      return c ? [{ service, id, state: c.State }] : [];
    });
  };
}

export function startReplicaGuard(options: ReplicaGuardOptions): ReplicaGuard {
  const intervalMs = options.intervalMs ?? 1000;
  const timeoutMs = options.timeoutMs ?? 3000;
  const misses = options.misses ?? 2;
  let problem: string | undefined;
  let missed = 0;
  let known: Map<string, string> | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const controller = new AbortController();

  const look = async () => {
    // A fault applied or reverted while the list is in flight is excused either way.
    const before = options.excused();
    let containers: ServiceContainer[];
    try {
      containers = await options.list(AbortSignal.any([controller.signal, AbortSignal.timeout(timeoutMs)]));
    } catch (error) {
      if (stopped) return;
      missed += 1;
      if (missed >= misses)
        problem = `the Docker engine stopped answering (${missed} looks in a row failed: ${errorMessage(error)})`;
      return;
    }
    missed = 0;
    const excused = new Set([...before, ...options.excused()]);
    if (known === undefined) {
      known = new Map(containers.map((c) => [c.service, c.id]));
      return;
    }
    const found: string[] = [];
    for (const [service, id] of known) {
      const now = containers.find((c) => c.service === service);
      if (!now) found.push(`${service} was removed`);
      else if (now.id !== id) found.push(`${service} was recreated`);
      else if (now.state !== "running" && !excused.has(service)) found.push(`${service} is ${now.state}`);
    }
    if (found.length > 0)
      problem = `the replica changed outside this run: ${found.join(", ")} (did the Docker engine restart?)`;
  };

  const tick = async () => {
    await look();
    if (!stopped && problem === undefined) {
      timer = setTimeout(tick, intervalMs);
      timer.unref();
    }
  };
  void tick();

  return {
    problem: () => problem,
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      controller.abort();
    },
  };
}
