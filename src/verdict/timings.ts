import type { JournalEvent } from "../journal/journal.js";
import type { MetricsBucket } from "../steady-state/metrics.js";
import type { PopTimings } from "./pop-timings.js";

// Failover timings, from the journal's timestamps: when each fault was applied, when the load
// balancer marked its node down, and when client errors came back under the SLO.

/** Fault kinds that take a service out of service: their detection and failover are timed. */
export function takesServiceOut(kind: string): boolean {
  return kind === "node-kill" || kind === "partition" || kind === "timeout" || kind === "reset";
}

export interface DetectionTiming {
  fault: string;
  service: string;
  /** Milliseconds from the fault's application until HAProxy marked the service down; null: never. */
  detectMs: number | null;
}

export interface Timings {
  /** Multi-PoP replicas: traffic share per PoP and the global layer's failovers. */
  pops?: PopTimings;
  detection: DetectionTiming[];
  /**
   * Seconds from the first disruptive fault until the error rate stayed under the SLO for the
   * rest of the inject phase (per-second buckets); null: it never did; undefined: no
   * disruptive fault on an edge.
   */
  failoverMs: number | null | undefined;
}

export function measureTimings(
  events: readonly JournalEvent[],
  buckets: readonly MetricsBucket[],
  inject: { start: number; end: number } | undefined,
  sloRate: number,
): Timings {
  const intents = new Map<string, { fault: string; service: string }>();
  for (const e of events)
    if (e.type === "fault-intent") intents.set(e.id, { fault: e.fault, service: e.target });
  const started = events.find((e) => e.type === "run-started");
  // Journals written before run-started listed the edges named them edge-N.
  const edges = started?.type === "run-started" ? started.edges : undefined;
  const isEdge = (service: string) => (edges ? edges.includes(service) : service.startsWith("edge"));
  const detection: DetectionTiming[] = [];
  let firstDisruptiveSecond: number | undefined;
  for (const e of events) {
    if (e.type !== "fault-applied") continue;
    const intent = intents.get(e.id);
    if (!intent || !takesServiceOut(intent.fault) || !isEdge(intent.service)) continue;
    firstDisruptiveSecond ??= e.second;
    const appliedAt = Date.parse(e.at);
    const down = events.find(
      (x) =>
        x.type === "lb-state" &&
        x.edge === intent.service &&
        x.state === "down" &&
        Date.parse(x.at) >= appliedAt,
    );
    detection.push({
      fault: e.id,
      service: intent.service,
      detectMs: down ? Date.parse(down.at) - appliedAt : null,
    });
  }
  let failoverMs: number | null | undefined;
  if (firstDisruptiveSecond !== undefined && inject) {
    const during = buckets.filter((b) => b.second >= firstDisruptiveSecond && b.second < inject.end);
    const healthy = (b: MetricsBucket) => b.all.count > 0 && b.all.errors / b.all.count < sloRate;
    failoverMs = null;
    for (let i = 0; i < during.length; i++) {
      if (during.slice(i).every(healthy)) {
        failoverMs = ((during[i] as MetricsBucket).second - firstDisruptiveSecond) * 1000;
        break;
      }
    }
  }
  return { detection, failoverMs };
}
