import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { errorMessage } from "../errors.js";
import type { LoadedExperiment } from "../experiments/loader.js";
import type { FaultPlan } from "../experiments/plan.js";
import { Journal, type JournalEvent } from "../journal/journal.js";
import { acquireLock } from "../lifecycle/lock.js";
import { type Clock, systemClock } from "../lifecycle/wait.js";
import type { Replica } from "../replica/replica.js";
import type { LoadDriver } from "../steady-state/load-driver.js";
import { VegetaDriver } from "../steady-state/vegeta.js";
import { FaultSession } from "./fault-session.js";
import { startInstruments } from "./instruments.js";
import {
  baselineGate,
  methodAndTimeline,
  recordStop,
  rollback,
  settleLoad,
  type Timeline,
  verify,
} from "./phases.js";
import { preflight, type ResolvedPlan, resolvePlan } from "./preflight.js";
import type { JudgeInput, RunContext, RunJudgement, RunResult } from "./run-context.js";
import { RunLoop } from "./run-loop.js";
import { type Plan, plannedSeconds, planOf } from "./run-plan.js";
import { verdict } from "./verdict-phase.js";

export type { JudgeInput, RunJudgement, RunResult } from "./run-context.js";
export { type Plan, plannedSeconds, planOf } from "./run-plan.js";

// A run, as named phases: preflight (src/run/preflight.ts); then on the run's clock
// (src/run/run-loop.ts) the baseline gate, the method and its timeline, verify, and the
// rollback (src/run/phases.ts); then the verdict (src/run/verdict-phase.ts).

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
  /** The fault plan, resolved already (a suite checks every plan before it starts). */
  planned?: ResolvedPlan;
  /** Aborting it interrupts the run: every fault is reverted and the verdict is `interrupted`. */
  signal?: AbortSignal;
  onEvent?: (event: JournalEvent) => void;
  /** Hears of an onEvent listener that threw (the run goes on); default: a line on stderr. */
  onListenerError?: (error: unknown) => void;
  /** Evaluates gates on the run's report before the reports are written (and journals them). */
  judge?: (input: JudgeInput) => RunJudgement;
  clock?: Clock;
  /** Who applies the faults on the timeline: this process by default (src/run/phases.ts). */
  timeline?: Timeline;
}

export function newRunId(name: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `${stamp}-${name}-${randomBytes(2).toString("hex")}`;
}

export async function runExperiment(options: RunOptions): Promise<RunResult> {
  const faultPlan = resolvePlan(options.loaded, options.replica, options.seed, options.planned);
  const driver = options.driver ?? new VegetaDriver();
  const driverVersion = await driver.version();
  const runId = newRunId(options.loaded.experiment.name);
  // The lock first: another run's faults are not leftovers, and two runs never share a replica.
  const releaseLock = acquireLock(options.replica.topology.replica, runId);
  try {
    await preflight(options.loaded, options.replica, options.recoverFirst ?? false);
    return await executeRun(options, { runId, faultPlan, driver, driverVersion });
  } finally {
    releaseLock();
  }
}

interface Prepared {
  runId: string;
  faultPlan: FaultPlan;
  driver: LoadDriver;
  driverVersion: string;
}

async function executeRun(options: RunOptions, prepared: Prepared): Promise<RunResult> {
  const run = openRun(options, prepared);
  const instruments = startInstruments({
    experiment: run.experiment,
    replica: run.replica,
    journal: run.journal,
    runId: run.runId,
    loop: run.loop,
    session: run.session,
    driver: prepared.driver,
    url: loadUrl(options),
    maxLoadMs: (plannedSeconds(run.plan) + 2) * 1000 + run.plan.settleMs * 2,
  });
  try {
    if (await baselineGate(run)) {
      const verifyStart = await methodAndTimeline(run, prepared.faultPlan.actions, options.timeline);
      await verify(run, verifyStart);
    }
    await settleLoad(run, instruments);
  } catch (error) {
    recordStop(run, error);
  } finally {
    await rollback(run, instruments);
  }
  return verdict(run, options.judge);
}

/**
 * Where the load goes: the PoP's entry point, over HTTPS to its TLS port with load.https; with
 * one request, its URL; with a named mix, the origin its paths resolve against.
 */
const loadUrl = (options: RunOptions) => {
  const { load } = options.loaded.experiment;
  const { endpoints } = options.replica;
  const path = load.mix ? "/" : (load.requests[0]?.path ?? "/");
  return load.https ? `https://${endpoints.lbTls ?? ""}${path}` : `${endpoints.lb}${path}`;
};

/** The journal with its listeners and its run-started event, then the run's clock and fault session. */
function openRun(options: RunOptions, prepared: Prepared): RunContext {
  const { experiment } = options.loaded;
  const { replica } = options;
  const { runId } = prepared;
  const plan = planOf(experiment);
  const signal = options.signal ?? new AbortController().signal;
  const runDir = join(options.runsDir, runId);
  const journal = new Journal(join(runDir, "journal.jsonl"), undefined, (error) =>
    (options.onListenerError ?? reportListenerError)(error),
  );
  const events: JournalEvent[] = [];
  journal.onEvent((e) => events.push(e));
  if (options.onEvent) journal.onEvent(options.onEvent);
  journal.write(runStarted(options, prepared, plan));
  const loop = new RunLoop({
    journal,
    clock: options.clock ?? systemClock,
    signal,
    experiment,
    windowSeconds: plan.windowSeconds,
    settleMs: plan.settleMs,
    ...(replica.topology.pops
      ? { pops: Object.fromEntries(replica.topology.pops.map((p) => [p.name, p.edges])) }
      : {}),
  });
  const session = new FaultSession(replica, runId, journal, {
    watchdog: (options.watchdog ?? true) && process.env.FAULTLINE_WATCHDOG !== "0",
    second: () => loop.second(),
  });
  return { runId, runDir, experiment, replica, plan, journal, events, loop, session, signal };
}

function reportListenerError(error: unknown): void {
  process.stderr.write(`warning: a journal listener failed (the run goes on): ${errorMessage(error)}\n`);
}

function runStarted(options: RunOptions, prepared: Prepared, plan: Plan) {
  const { loaded, replica } = options;
  const { experiment } = loaded;
  const { topology } = replica;
  return {
    type: "run-started" as const,
    runId: prepared.runId,
    experiment: {
      name: experiment.name,
      file: loaded.file,
      ...(loaded.source === undefined ? {} : { source: loaded.source }),
      ...(loaded.params && Object.keys(loaded.params).length ? { params: { ...loaded.params } } : {}),
    },
    replica: topology.replica,
    edges: topology.edges,
    ...(topology.pops
      ? {
          pops: Object.fromEntries(
            topology.pops.map((p) => [
              p.name,
              { lb: p.lb, edges: p.edges, uplink: p.uplink, ingress: p.ingress },
            ]),
          ),
        }
      : {}),
    load: {
      driver: prepared.driver.name,
      version: prepared.driverVersion,
      url: loadUrl(options),
      ratePerSecond: experiment.load.rate,
    },
    plan,
    seed: prepared.faultPlan.seed,
  };
}
