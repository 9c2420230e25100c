import type { JournalEvent, Phase } from "../../src/journal/journal.js";
import { BucketAggregator, type MetricsBucket, windowStats } from "../../src/steady-state/metrics.js";
import { bucketsIn, metricsBuckets } from "../../src/verdict/evaluation.js";

/** Builds a synthetic journal: per second, `count` requests at `latencyMs` with `errors` failures. */
export function syntheticJournal(
  seconds: { latencyMs: number; count?: number; errors?: number }[],
  phases: [Phase, number][],
  plan: { windowSeconds?: number; recoveryTargetMs?: number } = {},
): JournalEvent[] {
  const t0 = 1_000_000;
  const aggregator = new BucketAggregator(t0, 0);
  seconds.forEach((s, second) => {
    const count = s.count ?? 10;
    for (let i = 0; i < count; i++) {
      const failed = i < (s.errors ?? 0);
      aggregator.add({
        startedAt: t0 + second * 1000 + i,
        latencyMs: s.latencyMs,
        status: failed ? 503 : 200,
        error: "",
        edge: "edge-1",
      });
    }
  });
  const buckets: MetricsBucket[] = aggregator.releaseUpTo(seconds.length);
  const at = new Date(0).toISOString();
  // Planned phase lengths as the marks give them (the last phase runs to the end).
  const length = (phase: Phase) => {
    const i = phases.findIndex(([p]) => p === phase);
    if (i < 0) return 0;
    const start = phases[i]?.[1] ?? 0;
    return (phases[i + 1]?.[1] ?? seconds.length) - start;
  };
  return [
    {
      at,
      type: "run-started",
      runId: "r",
      experiment: { name: "t", file: "t.yaml" },
      replica: "default",
      load: { driver: "vegeta", version: "test", url: "http://127.0.0.1/", ratePerSecond: 10 },
      plan: {
        windowSeconds: plan.windowSeconds ?? 2,
        warmupSeconds: length("warmup"),
        baselineSeconds: length("baseline"),
        injectSeconds: length("inject"),
        recoverSeconds: length("recover"),
        verifySeconds: length("verify"),
        recoveryTargetMs: plan.recoveryTargetMs ?? 4000,
      },
      seed: 1,
    },
    ...phases.map(([phase, second]): JournalEvent => ({ at, type: "phase", phase, second })),
    ...buckets.map((b): JournalEvent => ({ at, type: "metrics", ...b })),
  ];
}

/** A small experiment's source, as recorded runs carry it: one p99 check, one latency fault. */
export const latencyExperiment = (name: string) => `version: 1
name: ${name}
load: { rate: 10/s }
steadyState:
  window: 2s
  checks:
    - { name: p99 under 100ms, metric: latency.p99, below: 100ms }
method:
  - { fault: latency, target: edge-1, latency: 150ms, for: 4s }
`;

/**
 * A 19-second run (warmup 0, baseline 1, inject 5, recover 9, verify 15) whose run-started
 * carries the experiment's source; the seconds listed in `slow` answer in 300 ms, the rest in 5.
 */
export function recordedRun(source: string, slow: readonly number[] = []): JournalEvent[] {
  const seconds = Array.from({ length: 19 }, (_, s) => ({ latencyMs: slow.includes(s) ? 300 : 5 }));
  const events = syntheticJournal(seconds, [
    ["warmup", 0],
    ["baseline", 1],
    ["inject", 5],
    ["recover", 9],
    ["verify", 15],
  ]);
  const started = events[0];
  if (started?.type !== "run-started") throw new Error("synthetic journal starts with run-started");
  started.experiment.source = source;
  return events;
}

const PHASE_ORDER = ["baseline", "inject", "recover", "verify"] as const;

/** The error rate of a run's load in one phase (its journal's buckets from its mark to the next). */
export function errorRateIn(events: readonly JournalEvent[], phase: (typeof PHASE_ORDER)[number]): number {
  const start = events.find((e) => e.type === "phase" && e.phase === phase);
  const next = events.find(
    (e) => e.type === "phase" && e.phase === PHASE_ORDER[PHASE_ORDER.indexOf(phase) + 1],
  );
  const from = start?.type === "phase" ? start.second : 0;
  const to = next?.type === "phase" ? next.second : Number.POSITIVE_INFINITY;
  return windowStats(bucketsIn(metricsBuckets(events), { start: from, end: to })).errorRate ?? Number.NaN;
}

/** The distinct errors a run's probes reported. */
export function probeErrors(events: readonly JournalEvent[]): Set<string> {
  return new Set(events.flatMap((e) => (e.type === "probe" && e.error !== undefined ? [e.error] : [])));
}
