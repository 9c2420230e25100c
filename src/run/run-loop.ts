import { EnvironmentError } from "../errors.js";
import type { Experiment } from "../experiments/schema.js";
import type { Journal, Phase } from "../journal/journal.js";
import type { Clock } from "../lifecycle/wait.js";
import {
  compare,
  type Measurements,
  measureConditions,
  type ProbeSample,
  probeKey,
} from "../steady-state/checks.js";
import { BucketAggregator, type MetricsBucket } from "../steady-state/metrics.js";
import type { Sample } from "../steady-state/sample.js";
import { evaluateWindow, type Interval, windowsOf } from "../verdict/evaluation.js";
import type { ReplicaGuard } from "./replica-guard.js";

/** Thrown where an abort condition was found breached (and journaled). */
export class AbortConditionBreached extends Error {}

export interface RunLoopOptions {
  journal: Journal;
  clock: Clock;
  signal: AbortSignal;
  experiment: Experiment;
  windowSeconds: number;
  settleMs: number;
  /** Multi-PoP replicas: each PoP's edges, for traffic-share checks. */
  pops?: Record<string, string[]>;
}

/**
 * The run's clock, shared by its phases: time since the load started, the metrics settled so
 * far (journaled once a second, judged window by window as each window settles), the abort
 * conditions watched at every tick, and the replica guard consulted while waiting.
 */
export class RunLoop {
  /** When the load started (the clock's milliseconds): second 0 of the run. */
  readonly t0: number;
  readonly buckets: MetricsBucket[] = [];
  readonly probes: ProbeSample[] = [];
  readonly measurements: Measurements;
  private readonly aggregator: BucketAggregator;
  private readonly pendingWindows: (Interval & { phase: Phase })[] = [];
  private abortWatch: Interval | undefined;
  private guard: ReplicaGuard | undefined;

  constructor(private readonly options: RunLoopOptions) {
    this.t0 = options.clock.now();
    this.aggregator = new BucketAggregator(this.t0, options.settleMs);
    this.measurements = {
      buckets: this.buckets,
      probes: this.probes,
      ...(options.pops ? { pops: options.pops } : {}),
    };
  }

  elapsedMs(): number {
    return this.options.clock.now() - this.t0;
  }

  /** The current second of the run (for fault-applied and fault-reverted events). */
  second(): number {
    return Math.floor(this.elapsedMs() / 1000);
  }

  addSample(sample: Sample): void {
    this.aggregator.add(sample);
  }

  addProbeSample(sample: ProbeSample): void {
    this.probes.push(sample);
    this.options.journal.write({ type: "probe", ...sample });
  }

  /** A replica guard whose problem ends the run at the next tick. */
  watchReplica(guard: ReplicaGuard): void {
    this.guard = guard;
  }

  /** Marks a phase and queues its windows, judged as they settle (warmup has none). */
  enterPhase(phase: Phase, start: number, length: number): void {
    this.options.journal.write({ type: "phase", phase, second: start });
    if (phase === "warmup") return;
    this.pendingWindows.push(
      ...windowsOf({ start, end: start + length }, this.options.windowSeconds).map((w) => ({ ...w, phase })),
    );
  }

  /**
   * Watches the abort conditions over these seconds (the inject phase), at every tick, until
   * the last of them has settled.
   */
  watchAbortConditions(interval: Interval): void {
    this.abortWatch = interval;
  }

  /** Sleeps until `targetMs` after t0, publishing settled metrics and watching abort conditions. */
  async until(targetMs: number): Promise<void> {
    const { signal, clock } = this.options;
    for (;;) {
      signal.throwIfAborted();
      const lost = this.guard?.problem();
      if (lost) throw new EnvironmentError(lost);
      this.publish(this.aggregator.release(clock.now()));
      this.checkAbortConditions();
      const left = targetMs - this.elapsedMs();
      if (left <= 0) return;
      await clock.sleep(Math.min(250, left), signal);
    }
  }

  /** Publishes every bucket up to `endSecond`, settled or not: the load has finished. */
  releaseUpTo(endSecond: number): void {
    this.publish(this.aggregator.releaseUpTo(endSecond));
  }

  private publish(released: MetricsBucket[]): void {
    const { journal, experiment } = this.options;
    for (const bucket of released) {
      this.buckets.push(bucket);
      journal.write({ type: "metrics", ...bucket });
    }
    const settled = this.buckets.length;
    while (this.pendingWindows.length > 0 && (this.pendingWindows[0] as Interval).end <= settled) {
      const w = this.pendingWindows.shift() as Interval & { phase: Phase };
      const evaluated = evaluateWindow(
        this.measurements,
        w,
        experiment.steadyState.checks,
        w.phase === "warmup" ? undefined : w.phase,
      );
      journal.write({
        type: "window",
        phase: w.phase,
        start: w.start,
        end: w.end,
        results: evaluated.results,
      });
    }
  }

  // Abort conditions are watched over the seconds in which faults can be active (the inject
  // phase), over the latest `for` seconds of settled traffic, at every tick. Traffic settles
  // `settleMs` late, so the watch goes on into the recover phase until the inject phase's
  // last second has settled.
  private checkAbortConditions(): void {
    const watch = this.abortWatch;
    if (watch === undefined) return;
    const end = Math.min(this.buckets.length, watch.end);
    for (const condition of this.options.experiment.abort) {
      const span = Math.max(1, Math.ceil(condition.forMs / 1000));
      if (end - span < watch.start) continue;
      const [measured] = measureConditions([condition], this.measurements, { start: end - span, end }, (c) =>
        probeKey("abort", c.name),
      );
      const value = measured?.value;
      if (
        value !== undefined &&
        compare(condition.comparator, value, condition.threshold, condition.thresholdHigh)
      ) {
        this.options.journal.write({
          type: "aborted",
          condition: condition.name,
          metric: condition.metric,
          value,
          threshold: condition.threshold,
          second: end,
        });
        throw new AbortConditionBreached(condition.name);
      }
    }
    if (this.buckets.length >= watch.end) this.abortWatch = undefined;
  }
}
