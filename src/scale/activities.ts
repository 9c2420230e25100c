import { existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Context } from "@temporalio/activity";
import { ExitCode, FaultlineError } from "../errors.js";
import { finishLostRun } from "../run/finish-lost.js";
import { runSuite, type SuiteResult } from "../run/suite.js";
import type { ApplyOutcome, GameDayInput, GameDayOutcome, GameDayRun, OfferedTimeline } from "./game-day.js";
import { TimelineHost } from "./timeline-host.js";

// The worker's activities. runGameDay is the whole suite, run by this worker as `faultline run`
// would run it (replica, load, probes, journal, verdict, reports, history), except that each
// run's faults are applied when the workflow says so, on its durable timers. Long activities
// heartbeat every HEARTBEAT_MS: a worker that dies is noticed within the heartbeat timeout.

export const HEARTBEAT_MS = 1000;

export interface WorkerSettings {
  engine: string;
  /** This worker process's own task queue: a game day's activities after the claim go there. */
  ownQueue: string;
  onProgress?: (message: string) => void;
}

export function createActivities(settings: WorkerSettings, host = new TimelineHost()) {
  const halts = new Map<string, AbortController>();
  return {
    /**
     * On the engine's queue: the worker that takes it runs the game day, on its own queue from
     * then on, so that every activity of the game day lands in the process holding its state.
     */
    async claimWorker(): Promise<string> {
      return settings.ownQueue;
    },

    runGameDay(input: GameDayInput): Promise<GameDayOutcome> {
      return runGameDay(input, settings, host, halts);
    },

    async nextTimeline(gameDay: string): Promise<OfferedTimeline | null> {
      const stopBeating = heartbeatWhile(() => {});
      try {
        return (await host.next(gameDay, Context.current().cancellationSignal)) ?? null;
      } finally {
        stopBeating();
      }
    },

    applyFault(gameDay: string, runId: string, actionId: string): Promise<ApplyOutcome> {
      return host.apply(gameDay, runId, actionId);
    },

    revertFault(gameDay: string, runId: string, actionId: string): Promise<void> {
      return host.revert(gameDay, runId, actionId);
    },

    /** A run its worker died in, closed from its journal by the worker that is back. */
    async closeLostRun(input: GameDayInput, runId: string, reason: string): Promise<GameDayRun> {
      // Heartbeats that timed out (a server restart, a long stall) do not always mean a dead
      // worker: if the suite still runs here, it is being cancelled and closes its run itself.
      while (halts.has(input.id))
        await sleep(200, undefined, { signal: Context.current().cancellationSignal });
      return closeLostRun(input, runId, reason);
    },

    /** `faultline halt`: the game day's current run reverts every fault and ends interrupted. */
    async haltGameDay(gameDay: string): Promise<boolean> {
      const controller = halts.get(gameDay);
      controller?.abort("halt");
      return controller !== undefined;
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;

/** The suite, as `faultline run` runs it, with its faults on the workflow's timeline. */
async function runGameDay(
  input: GameDayInput,
  settings: WorkerSettings,
  host: TimelineHost,
  halts: Map<string, AbortController>,
): Promise<GameDayOutcome> {
  const controller = new AbortController();
  halts.set(input.id, controller);
  const stopBeating = heartbeatWhile(() => controller.abort("cancelled"));
  const progress = (message: string) => settings.onProgress?.(`[${input.id}] ${message}`);
  try {
    const result = await runSuite({
      ...suiteOptions(input),
      signal: controller.signal,
      timeline: host.timelineFor(input.id),
      onProgress: progress,
    });
    return outcomeOf(input.id, result);
  } catch (error) {
    if (!(error instanceof FaultlineError)) throw error;
    progress(`not run: ${error.message}`);
    return { id: input.id, runs: [], exitCode: error.exitCode, error: error.message };
  } finally {
    stopBeating();
    halts.delete(input.id);
    host.end(input.id);
  }
}

/** A run its worker died in, closed from its journal by the worker that is back. */
async function closeLostRun(input: GameDayInput, runId: string, reason: string): Promise<GameDayRun> {
  const journalPath = join(input.runsDir, runId, "journal.jsonl");
  if (!existsSync(journalPath))
    return {
      file: "",
      experiment: runId,
      runId,
      gates: [],
      exitCode: ExitCode.environment,
      error: reason,
    };
  const closed = await finishLostRun({ journalPath, reason, history: input.history });
  return {
    file: closed.file,
    experiment: closed.experiment,
    runId,
    runDir: closed.runDir,
    journalPath,
    evaluation: closed.evaluation,
    reports: closed.reports,
    gates: [],
    exitCode: closed.evaluation.exitCode,
    error: closed.error,
  };
}

function suiteOptions(input: GameDayInput) {
  return {
    paths: input.paths,
    tags: input.tags,
    runsDir: input.runsDir,
    replica: input.replica,
    topology: input.topology,
    edges: input.edges,
    recover: input.recover,
    seed: input.seed,
    keepReplica: input.keepReplica,
    gates: input.gates,
    acceptDegraded: input.acceptDegraded,
    allowHostCommands: input.allowHostCommands,
    params: input.params,
    history: input.history,
  };
}

/** Heartbeats until stopped; `onCancel` when the workflow cancels the activity. */
function heartbeatWhile(onCancel: () => void): () => void {
  const context = Context.current();
  context.cancellationSignal.addEventListener("abort", onCancel, { once: true });
  context.heartbeat();
  const timer = setInterval(() => context.heartbeat(), HEARTBEAT_MS);
  return () => {
    clearInterval(timer);
    context.cancellationSignal.removeEventListener("abort", onCancel);
  };
}

/** The suite's result as plain data: the reports stay in the run folders. */
function outcomeOf(id: string, result: SuiteResult): GameDayOutcome {
  return {
    id,
    exitCode: result.exitCode,
    runs: result.runs.map((run) => ({
      file: run.file,
      experiment: run.experiment,
      runId: run.runId,
      runDir: run.runDir,
      journalPath: run.journalPath,
      evaluation: run.evaluation,
      reports: run.reports,
      gates: run.gates,
      exitCode: run.exitCode,
      seed: run.seed,
      error: run.error,
    })),
    ...(result.readiness ? { readiness: result.readiness } : {}),
  };
}
