import { experimentSchema } from "../../src/experiments/schema.js";
import { parseLocated } from "../../src/format/located-yaml.js";
import { type JournalEvent, type Phase, readJournal } from "../../src/journal/journal.js";
import type { Replica } from "../../src/replica/replica.js";
import { runExperiment } from "../../src/run/runner.js";
import { type WindowStats, windowStats } from "../../src/steady-state/metrics.js";
import {
  bucketsIn,
  metricsBuckets,
  phaseIntervals,
  type RunEvaluation,
} from "../../src/verdict/evaluation.js";
import { tempDir } from "./temp.js";

export interface ShortRun {
  events: JournalEvent[];
  evaluation: RunEvaluation;
  /** Statistics of one phase, for all traffic or one edge's. */
  stats(phase: Phase, edge?: string): WindowStats;
}

/**
 * Runs a short experiment (about 25 s) on a real replica: 1 s warmup, 3 s baseline, the
 * given method, 4 s recover, 3 s verify.
 */
export async function runShort(
  replica: Replica,
  method: string,
  options: {
    rate?: string;
    path?: string;
    timeout?: string;
    checks?: string;
    recover?: string;
    seed?: number;
    extra?: string;
  } = {},
): Promise<ShortRun> {
  const yaml = `version: 1
name: short
load: { rate: ${options.rate ?? "40/s"}, path: ${options.path ?? "/"}, warmup: 1s, timeout: ${options.timeout ?? "2s"} }
steadyState:
  window: 3s
  baseline: 3s
  recover: ${options.recover ?? "4s"}
  verify: 3s
  checks: ${options.checks ?? "[{ metric: errors.rate, below: 100% }]"}
method:
${method}
${options.extra ?? ""}
`;
  const { data, locate } = parseLocated("short.yaml", yaml, experimentSchema);
  const loaded = { file: "short.yaml", experiment: data, locate, source: yaml };
  const result = await runExperiment({
    loaded,
    replica,
    runsDir: tempDir("faultline-runs-"),
    ...(options.seed === undefined ? {} : { seed: options.seed }),
  });
  const events = readJournal(result.journalPath);
  const buckets = metricsBuckets(events);
  const last = (buckets[buckets.length - 1]?.second ?? 0) + 1;
  const phases = phaseIntervals(events, last);
  return {
    events,
    evaluation: result.evaluation,
    stats(phase, edge) {
      const interval = phases.find((p) => p.phase === phase);
      if (!interval)
        throw new Error(`no ${phase} phase in the journal (verdict ${result.evaluation.verdict})`);
      return windowStats(bucketsIn(buckets, interval), edge);
    },
  };
}

export const pct = (value: number | undefined) =>
  value === undefined ? "n/a" : `${(value * 100).toFixed(1)}%`;
export const ms = (value: number | undefined) => (value === undefined ? "n/a" : `${value.toFixed(1)} ms`);
