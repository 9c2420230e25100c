import { wasDisruptive } from "../faults/registry.js";
import type { JournalEvent } from "../journal/journal.js";
import { type MetricsBucket, windowStats } from "../steady-state/metrics.js";

// Cross-PoP timings for multi-PoP replicas, from the journal alone: each PoP's share of the
// clients' requests per phase, and for every fault that takes a whole PoP out (all its
// edges, its load balancer, or its ingress link), how long the global layer took to mark it
// down and move the traffic, what clients saw meanwhile, and how long after the revert the
// PoP was back in rotation and serving again (fail-back).

export interface PopFailover {
  /** The fault (its id without the per-service suffix, e.g. f1). */
  fault: string;
  pop: string;
  kind: string;
  /** From the fault's application until the global layer marked the PoP down; null: never. */
  detectMs: number | null;
  /**
   * From the application until the PoP served no more requests and other PoPs served (almost,
   * 99%) all of them, for as long as the fault lasted (one-second resolution); null: never.
   */
  movedMs: number | null;
  /** Requests clients sent from the application until the traffic had moved (or the revert). */
  duringMove: { requests: number; errors: number; errorRate: number; p99Ms: number | null };
  /** From the revert until the global layer marked the PoP up again; null: never (in the run). */
  backInRotationMs: number | null;
  /** From the revert until the PoP served requests again (one-second resolution); null: never. */
  failBackMs: number | null;
  /** False for a PoP that served nothing at baseline (a backup): it has nothing to fail back to. */
  failBackApplies?: boolean;
}

export interface PopTimings {
  /** Per phase, each PoP's share of all requests (0..1); requests no PoP served are not counted in any. */
  share: Record<string, Record<string, number>>;
  failovers: PopFailover[];
}

type PopsMap = Record<string, { lb: string; edges: string[]; uplink: string; ingress: string }>;

/** Requests a PoP's edges served in a bucket. */
type Served = (b: MetricsBucket, pop: string) => number;

export function measurePopTimings(
  events: readonly JournalEvent[],
  buckets: readonly MetricsBucket[],
  phases: readonly { phase: string; start: number; end: number }[],
): PopTimings | undefined {
  const started = events.find((e) => e.type === "run-started");
  const pops: PopsMap | undefined = started?.type === "run-started" ? started.pops : undefined;
  if (!pops) return undefined;
  const served: Served = (b, pop) =>
    (pops[pop]?.edges ?? []).reduce((n, edge) => n + (b.byEdge[edge]?.count ?? 0), 0);
  const share = trafficShare(buckets, phases, pops, served);
  const failovers: PopFailover[] = [];
  for (const group of popFaults(events, pops).values()) {
    const failover = measureFailover(group, { events, buckets, pops, served, share });
    if (failover) failovers.push(failover);
  }
  return { share, failovers };
}

function trafficShare(
  buckets: readonly MetricsBucket[],
  phases: readonly { phase: string; start: number; end: number }[],
  pops: PopsMap,
  served: Served,
): PopTimings["share"] {
  const share: PopTimings["share"] = {};
  for (const phase of phases) {
    const inPhase = buckets.filter((b) => b.second >= phase.start && b.second < phase.end);
    const total = inPhase.reduce((n, b) => n + b.all.count, 0);
    share[phase.phase] = Object.fromEntries(
      Object.keys(pops).map((pop) => [
        pop,
        total ? inPhase.reduce((n, b) => n + served(b, pop), 0) / total : 0,
      ]),
    );
  }
  return share;
}

type FaultApplied = Extract<JournalEvent, { type: "fault-applied" }>;
type FaultReverted = Extract<JournalEvent, { type: "fault-reverted" }>;

interface PopFault {
  fault: string;
  pop: string;
  kind: string;
  services: Set<string>;
  applied?: FaultApplied;
  reverted?: FaultReverted;
}

/** A fault's actions (f1.pop-b-edge-1, f1.pop-b-edge-2, ...) grouped by fault and PoP. */
function popFaults(events: readonly JournalEvent[], pops: PopsMap): Map<string, PopFault> {
  const intents = new Map<string, { fault: string; service: string; disruptive: boolean }>();
  for (const e of events)
    if (e.type === "fault-intent")
      intents.set(e.id, { fault: e.fault, service: e.target, disruptive: wasDisruptive(e) });
  const groups = new Map<string, PopFault>();
  for (const e of events) {
    if (e.type !== "fault-applied" && e.type !== "fault-reverted") continue;
    const intent = intents.get(e.id);
    // Only faults that take a service out of service can take a PoP out of rotation.
    if (!intent?.disruptive) continue;
    const pop = Object.entries(pops).find(
      ([, p]) =>
        p.lb === intent.service ||
        p.edges.includes(intent.service) ||
        p.ingress === intent.service ||
        p.uplink === intent.service,
    )?.[0];
    if (!pop) continue;
    const fault = e.id.split(".")[0] ?? e.id;
    const key = `${fault}/${pop}`;
    const group = groups.get(key) ?? { fault, pop, kind: intent.fault, services: new Set<string>() };
    group.services.add(intent.service);
    // The PoP is out once the last of its services is; it is back once the first returns.
    if (e.type === "fault-applied" && (!group.applied || e.at > group.applied.at)) group.applied = e;
    if (e.type === "fault-reverted" && (!group.reverted || e.at < group.reverted.at)) group.reverted = e;
    groups.set(key, group);
  }
  return groups;
}

interface PopRun {
  events: readonly JournalEvent[];
  buckets: readonly MetricsBucket[];
  pops: PopsMap;
  served: Served;
  share: PopTimings["share"];
}

/** The failover of a fault that took a whole PoP out; undefined when it took out only part of one. */
function measureFailover(group: PopFault, run: PopRun): PopFailover | undefined {
  const { events, buckets } = run;
  const p = run.pops[group.pop];
  const { applied, reverted } = group;
  if (!p || !applied) return undefined;
  const wholePop =
    p.edges.every((edge) => group.services.has(edge)) ||
    group.services.has(p.lb) ||
    group.services.has(p.ingress);
  if (!wholePop) return undefined;
  const appliedAt = Date.parse(applied.at);
  const revertedAt = reverted ? Date.parse(reverted.at) : undefined;
  const revertSecond = reverted?.second;
  const popEvent = (state: string, after: number, before = Number.POSITIVE_INFINITY) =>
    events.find(
      (x) =>
        x.type === "pop-state" &&
        x.pop === group.pop &&
        x.state === state &&
        Date.parse(x.at) >= after &&
        Date.parse(x.at) <= before,
    );
  // Marked down while this fault was in force, not by a later one.
  const down = popEvent("down", appliedAt, revertedAt);
  const until = revertSecond ?? Math.max(...buckets.map((b) => b.second), applied.second) + 1;
  const moved = movedSecond(group.pop, applied.second, until, run);
  const up = revertedAt !== undefined ? popEvent("up", revertedAt) : undefined;
  const back =
    revertSecond !== undefined
      ? buckets.find((b) => b.second >= revertSecond && run.served(b, group.pop) > 0)
      : undefined;
  return {
    fault: group.fault,
    pop: group.pop,
    kind: group.kind,
    detectMs: down ? Date.parse(down.at) - appliedAt : null,
    movedMs: moved !== undefined ? (moved - applied.second) * 1000 : null,
    duringMove: duringMove(buckets.filter((b) => b.second >= applied.second && b.second < (moved ?? until))),
    backInRotationMs: up && revertedAt !== undefined ? Date.parse(up.at) - revertedAt : null,
    failBackMs: back && revertSecond !== undefined ? (back.second - revertSecond) * 1000 : null,
    failBackApplies: (run.share.baseline?.[group.pop] ?? 1) > 0,
  };
}

/**
 * Moved: from this second on (until `until`), the PoP served nothing and (almost) every
 * request was served by another PoP. A killed PoP stops serving at once, but until the global
 * layer steers its clients away, their requests fail without any PoP serving them.
 */
function movedSecond(pop: string, from: number, until: number, run: PopRun): number | undefined {
  const { pops, served } = run;
  const during = run.buckets.filter((b) => b.second >= from && b.second < until);
  const unserved = (b: MetricsBucket) =>
    b.all.count - Object.keys(pops).reduce((n, other) => n + served(b, other), 0);
  const settled = (b: MetricsBucket) =>
    served(b, pop) === 0 && unserved(b) <= Math.max(1, b.all.count * 0.01);
  for (let i = 0; i < during.length; i++) {
    if (during.slice(i).every(settled)) return (during[i] as MetricsBucket).second;
  }
  return undefined;
}

function duringMove(move: readonly MetricsBucket[]): PopFailover["duringMove"] {
  const stats = move.length ? windowStats(move) : undefined;
  const requests = move.reduce((n, b) => n + b.all.count, 0);
  const errors = move.reduce((n, b) => n + b.all.errors, 0);
  return {
    requests,
    errors,
    errorRate: requests ? errors / requests : 0,
    p99Ms: stats?.latency ? stats.latency.p99 : null,
  };
}

const seconds = (ms: number | null, never: string) => (ms === null ? never : `${(ms / 1000).toFixed(2)}s`);

/** The cross-PoP timings as lines, for the terminal summary and the reports. */
export function popTimingLines(timings: PopTimings): string[] {
  const lines: string[] = [];
  const shares = Object.entries(timings.share)
    .filter(([phase]) => phase !== "warmup")
    .map(
      ([phase, byPop]) =>
        `${phase} ${Object.entries(byPop)
          .map(([pop, share]) => `${pop} ${(share * 100).toFixed(0)}%`)
          .join(", ")}`,
    );
  if (shares.length) lines.push(`traffic share per PoP: ${shares.join("; ")}`);
  for (const f of timings.failovers) {
    const during = f.duringMove;
    lines.push(
      `PoP ${f.pop} out (${f.fault}, ${f.kind}): global layer marked it down after ${seconds(f.detectMs, "never")}; traffic moved within ${seconds(f.movedMs, "never")}; meanwhile ${during.errors} of ${during.requests} requests failed (${(during.errorRate * 100).toFixed(1)}%)${during.p99Ms === null ? "" : `, p99 ${during.p99Ms.toFixed(0)}ms`}`,
    );
    lines.push(
      `PoP ${f.pop} fail-back (${f.fault}): back in rotation ${seconds(f.backInRotationMs, "never")} after the revert; ${f.failBackApplies === false ? "it served no clients at baseline (a backup), so none return" : `serving again within ${seconds(f.failBackMs, "never")}`}`,
    );
  }
  return lines;
}
