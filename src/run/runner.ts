import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { EnvironmentError, errorMessage } from "../errors.js";
import type { LoadedExperiment } from "../experiments/loader.js";
import { type FaultPlan, type PlannedAction, planFaults } from "../experiments/plan.js";
import { type Experiment, probeTimeoutMs } from "../experiments/schema.js";
import { newSeed } from "../experiments/targets.js";
import { Journal, type JournalEvent, type Phase } from "../journal/journal.js";
import type { CleanupEntry } from "../lifecycle/cleanup-registry.js";
import { readLedger } from "../lifecycle/ledger.js";
import { acquireLock } from "../lifecycle/lock.js";
import { type Clock, systemClock } from "../lifecycle/wait.js";
import { findLeftovers, recoverReplica } from "../recovery/recover.js";
import type { Replica } from "../replica/replica.js";
import { type ReportFormat, writeRunReports } from "../reports/index.js";
import { buildReport, type RunReport } from "../reports/model.js";
import {
  compare,
  holds,
  type Measurements,
  measureConditions,
  type ProbeSample,
  probeKey,
} from "../steady-state/checks.js";
import { startLbProbe } from "../steady-state/lb-probe.js";
import type { LoadDriver } from "../steady-state/load-driver.js";
import { BucketAggregator, type MetricsBucket } from "../steady-state/metrics.js";
import { preflightProbes } from "../steady-state/probe-preflight.js";
import { type ScheduledProbe, startProbes } from "../steady-state/probes.js";
import { VegetaDriver } from "../steady-state/vegeta.js";
import {
  evaluatePhase,
  evaluateRun,
  evaluateWindow,
  type Interval,
  type RunEvaluation,
  windowsOf,
} from "../verdict/evaluation.js";
import { FaultSession } from "./fault-session.js";
import { replicaContainers, startReplicaGuard } from "./replica-guard.js";

export interface RunOptions {
  loaded: LoadedExperiment;
  replica: Replica;
  runsDir: string;
  driver?: LoadDriver;
  /** Revert what crashed runs left on the replica before starting, instead of refusing. */
  recoverFirst?: boolean;
  /** Start the detached watchdog (the dead-man's switch). Default true; FAULTLINE_WATCHDOG=0 disables it. */
  watchdog?: boolean;
  /** Seed for random target choices; recorded in the journal so a run can be replayed. */
  seed?: number;
  /** Aborting it interrupts the run: every fault is reverted and the verdict is `interrupted`. */
  signal?: AbortSignal;
  onEvent?: (event: JournalEvent) => void;
  clock?: Clock;
}

class AbortConditionBreached extends Error {}

export interface RunResult {
  runId: string;
  runDir: string;
  journalPath: string;
  evaluation: RunEvaluation;
  /** The reports written next to the journal, by format; undefined when writing them failed. */
  reports: Record<ReportFormat, string> | undefined;
  /** The report model, computed from the run's events; undefined when that failed. */
  report: RunReport | undefined;
  /** Why the reports could not be written (the run itself is unaffected). */
  reportError?: string;
}

export interface Plan {
  windowSeconds: number;
  warmupSeconds: number;
  baselineSeconds: number;
  injectSeconds: number;
  recoverSeconds: number;
  verifySeconds: number;
  recoveryTargetMs: number;
  settleMs: number;
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

export function planOf(experiment: Experiment): Plan {
  const injectMs = Math.max(...experiment.method.map((f) => f.at + f.for));
  const probeTimeouts = [...experiment.steadyState.checks, ...experiment.abort].flatMap((c) =>
    c.probe ? [probeTimeoutMs(c.probe)] : [],
  );
  return {
    windowSeconds: seconds(experiment.steadyState.window),
    warmupSeconds: Math.ceil(experiment.load.warmup / 1000),
    baselineSeconds: seconds(experiment.steadyState.baseline),
    injectSeconds: seconds(injectMs),
    recoverSeconds: seconds(experiment.steadyState.recover ?? experiment.score.recoveryTarget),
    verifySeconds: seconds(experiment.steadyState.verify),
    recoveryTargetMs: experiment.score.recoveryTarget,
    // A request (or probe) sent in second s has settled once s+1 plus its timeout has passed.
    settleMs: Math.max(experiment.load.timeout, ...probeTimeouts) + 500,
  };
}

/** Seconds of load a plan takes, warmup to the end of verify. */
export function plannedSeconds(plan: Plan): number {
  return (
    plan.warmupSeconds + plan.baselineSeconds + plan.injectSeconds + plan.recoverSeconds + plan.verifySeconds
  );
}

export function newRunId(name: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `${stamp}-${name}-${randomBytes(2).toString("hex")}`;
}

type Step = { atMs: number; kind: "apply" | "revert"; action: PlannedAction };

export async function runExperiment(options: RunOptions): Promise<RunResult> {
  const faultPlan = planFaults(
    options.loaded.experiment,
    options.replica.topology,
    options.seed ?? newSeed(),
  );
  const driver = options.driver ?? new VegetaDriver();
  const driverVersion = await driver.version();
  const runId = newRunId(options.loaded.experiment.name);
  const replicaName = options.replica.topology.replica;
  // The lock first: another run's faults are not leftovers, and two runs never share a replica.
  const releaseLock = acquireLock(replicaName, runId);
  try {
    if (options.recoverFirst) {
      const { errors } = await recoverReplica(options.replica);
      if (errors.length > 0)
        throw new EnvironmentError(`recovering the replica failed: ${errors.join("; ")}`);
    }
    const leftovers = await findLeftovers(options.replica).catch((error: unknown) => {
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
    await preflightProbes(options.loaded, options.replica);
    return await executeRun(options, { runId, faultPlan, driver, driverVersion });
  } finally {
    releaseLock();
  }
}

async function executeRun(
  options: RunOptions,
  prepared: { runId: string; faultPlan: FaultPlan; driver: LoadDriver; driverVersion: string },
): Promise<RunResult> {
  const { experiment, file } = options.loaded;
  const { replica } = options;
  const { runId, faultPlan, driver, driverVersion } = prepared;
  const clock = options.clock ?? systemClock;
  const plan = planOf(experiment);
  const watchdogEnabled = (options.watchdog ?? true) && process.env.FAULTLINE_WATCHDOG !== "0";

  const runDir = join(options.runsDir, runId);
  const journal = new Journal(join(runDir, "journal.jsonl"));
  const events: JournalEvent[] = [];
  journal.onEvent((e) => events.push(e));
  if (options.onEvent) journal.onEvent(options.onEvent);

  const url = `${replica.endpoints.lb}${experiment.load.path}`;
  journal.write({
    type: "run-started",
    runId,
    experiment: {
      name: experiment.name,
      file,
      ...(options.loaded.source === undefined ? {} : { source: options.loaded.source }),
      ...(options.loaded.params && Object.keys(options.loaded.params).length
        ? { params: { ...options.loaded.params } }
        : {}),
    },
    replica: replica.topology.replica,
    edges: replica.topology.edges,
    ...(replica.topology.pops
      ? {
          pops: Object.fromEntries(
            replica.topology.pops.map((p) => [
              p.name,
              { lb: p.lb, edges: p.edges, uplink: p.uplink, ingress: p.ingress },
            ]),
          ),
        }
      : {}),
    load: { driver: driver.name, version: driverVersion, url, ratePerSecond: experiment.load.rate },
    plan,
    seed: faultPlan.seed,
  });

  const session = new FaultSession(replica, runId, journal, {
    watchdog: watchdogEnabled,
    second: () => Math.floor(elapsedMs() / 1000),
  });
  const registry = session.registry;
  const signal = options.signal ?? new AbortController().signal;
  const t0 = clock.now();
  const elapsedMs = () => clock.now() - t0;
  const aggregator = new BucketAggregator(t0, plan.settleMs);
  const buckets: MetricsBucket[] = [];
  const probes: ProbeSample[] = [];
  const measurements: Measurements = {
    buckets,
    probes,
    ...(replica.topology.pops
      ? { pops: Object.fromEntries(replica.topology.pops.map((p) => [p.name, p.edges])) }
      : {}),
  };
  const pendingWindows: (Interval & { phase: Phase })[] = [];

  const publish = (released: MetricsBucket[]) => {
    for (const bucket of released) {
      buckets.push(bucket);
      journal.write({ type: "metrics", ...bucket });
    }
    const settled = buckets.length;
    while (pendingWindows.length > 0 && (pendingWindows[0] as Interval).end <= settled) {
      const w = pendingWindows.shift() as Interval & { phase: Phase };
      const evaluated = evaluateWindow(
        measurements,
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
  };
  const flush = () => publish(aggregator.release(clock.now()));
  const enterPhase = (phase: Phase, start: number, length: number) => {
    journal.write({ type: "phase", phase, second: start });
    if (phase !== "warmup") {
      pendingWindows.push(
        ...windowsOf({ start, end: start + length }, plan.windowSeconds).map((w) => ({ ...w, phase })),
      );
    }
  };
  // Abort conditions are watched over the seconds in which faults can be active (the inject
  // phase), over the latest `for` seconds of settled traffic, at every tick. Traffic settles
  // `settleMs` late, so the watch goes on into the recover phase until the inject phase's
  // last second has settled.
  let abortWatch: Interval | undefined;
  const checkAbortConditions = () => {
    if (abortWatch === undefined) return;
    const end = Math.min(buckets.length, abortWatch.end);
    for (const condition of experiment.abort) {
      const span = Math.max(1, Math.ceil(condition.forMs / 1000));
      if (end - span < abortWatch.start) continue;
      const [measured] = measureConditions([condition], measurements, { start: end - span, end }, (c) =>
        probeKey("abort", c.name),
      );
      const value = measured?.value;
      if (
        value !== undefined &&
        compare(condition.comparator, value, condition.threshold, condition.thresholdHigh)
      ) {
        journal.write({
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
    if (buckets.length >= abortWatch.end) abortWatch = undefined;
  };
  /** Sleeps until `targetMs` after t0, publishing settled metrics and watching abort conditions. */
  const until = async (targetMs: number) => {
    for (;;) {
      signal.throwIfAborted();
      const lost = guard.problem();
      if (lost) throw new EnvironmentError(lost);
      flush();
      checkAbortConditions();
      const left = targetMs - elapsedMs();
      if (left <= 0) return;
      await clock.sleep(Math.min(250, left), signal);
    }
  };

  const maxLoadMs = (plannedSeconds(plan) + 2) * 1000 + plan.settleMs * 2;
  const load = driver.start(
    {
      url,
      ratePerSecond: experiment.load.rate,
      maxDurationMs: maxLoadMs,
      timeoutMs: experiment.load.timeout,
    },
    (sample) => aggregator.add(sample),
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
  const probeRun =
    scheduled.length > 0
      ? startProbes(scheduled, replica, t0, (sample) => {
          probes.push(sample);
          journal.write({ type: "probe", ...sample });
        })
      : undefined;
  if (probeRun) registry.register("stop the probes", () => probeRun.stop());
  const guard = startReplicaGuard({
    list: replicaContainers(replica.topology.replica),
    excused: () => session.touchedServices(),
  });

  try {
    enterPhase("warmup", 0, plan.warmupSeconds);
    await until(plan.warmupSeconds * 1000);
    const baselineStart = plan.warmupSeconds;
    enterPhase("baseline", baselineStart, plan.baselineSeconds);
    const baselineEnd = baselineStart + plan.baselineSeconds;
    // The baseline verdict needs every request of the baseline to have settled.
    await until(baselineEnd * 1000 + plan.settleMs);
    const baseline = evaluatePhase(
      measurements,
      { start: baselineStart, end: baselineEnd },
      experiment.steadyState.checks,
      "baseline",
      plan.windowSeconds,
    );
    const steady = baseline.every((w) => w.results.every(holds));

    if (steady) {
      const injectStart = Math.ceil(elapsedMs() / 1000);
      await until(injectStart * 1000);
      enterPhase("inject", injectStart, plan.injectSeconds);
      abortWatch = { start: injectStart, end: injectStart + plan.injectSeconds };
      await runTimeline(faultPlan.actions, injectStart * 1000);
      const recoverStart = injectStart + plan.injectSeconds;
      await until(recoverStart * 1000);
      enterPhase("recover", recoverStart, plan.recoverSeconds);
      const verifyStart = recoverStart + plan.recoverSeconds;
      await until(verifyStart * 1000);
      enterPhase("verify", verifyStart, plan.verifySeconds);
      await until((verifyStart + plan.verifySeconds) * 1000);
    }
    const endSecond = Math.floor(elapsedMs() / 1000);
    load.stop();
    // Samples and requests in flight belong to the last window: wait for them (each is bounded
    // by its timeout) before the last windows are judged.
    await Promise.all([load.finished, probeRun?.stop({ waitForInFlight: true })]);
    publish(aggregator.releaseUpTo(endSecond));
  } catch (error) {
    if (error instanceof AbortConditionBreached) {
      // Journaled where it was detected; the finally below reverts every fault at once.
    } else if (signal.aborted) {
      const reason: unknown = signal.reason;
      journal.write({ type: "interrupted", signal: typeof reason === "string" ? reason : "abort" });
    } else {
      journal.write({ type: "error", message: errorMessage(error) });
    }
  } finally {
    guard.stop();
    try {
      await registry.drain();
    } catch (error) {
      journal.write({ type: "error", message: `cleanup failed: ${errorMessage(error)}` });
    }
    const left = readLedger(replica.topology.replica, runId).entries;
    if (left.length > 0) {
      const flag = replica.topology.replica === "default" ? "" : ` --replica ${replica.topology.replica}`;
      journal.write({
        type: "error",
        message: `${left.length} fault(s) could not be reverted and stay in the fault ledger (${left.map((e) => e.faultId).join(", ")}): run \`faultline recover${flag}\` once the replica answers again`,
      });
    }
  }

  const evaluation = evaluateRun(events, experiment.steadyState.checks, experiment.score.weights);
  journal.write({
    type: "verdict",
    verdict: evaluation.verdict,
    reason: evaluation.reason,
    exitCode: evaluation.exitCode,
    ...(evaluation.score ? { score: evaluation.score.value } : {}),
  });
  journal.write({ type: "run-finished", durationMs: elapsedMs() });
  // Reports are renderings of the journal; failing to write them never changes the verdict.
  const base = { runId, runDir, journalPath: journal.path, evaluation };
  let report: RunReport | undefined;
  try {
    report = buildReport(events);
    return { ...base, report, reports: writeRunReports(runDir, report) };
  } catch (error) {
    return { ...base, report, reports: undefined, reportError: errorMessage(error) };
  }

  async function runTimeline(actions: readonly PlannedAction[], startMs: number): Promise<void> {
    const steps: Step[] = actions
      .flatMap((action): Step[] => [
        { atMs: startMs + action.atMs, kind: "apply", action },
        { atMs: startMs + action.untilMs, kind: "revert", action },
      ])
      // At the same moment, reverts go first: a node comes back before another is taken out.
      .sort((a, b) => a.atMs - b.atMs || (a.kind === "revert" ? -1 : 1));
    const applied = new Map<string, CleanupEntry>();
    for (const step of steps) {
      await until(step.atMs);
      if (step.kind === "revert") {
        await applied.get(step.action.id)?.release();
      } else {
        applied.set(step.action.id, await session.apply(step.action, t0 + startMs + step.action.untilMs));
      }
    }
  }
}
