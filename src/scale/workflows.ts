import type { Duration } from "@temporalio/common";
import {
  ActivityFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineSignal,
  proxyActivities,
  setHandler,
  TimeoutFailure,
  workflowInfo,
} from "@temporalio/workflow";
import type { Activities } from "./activities.js";
import type { FaultState, GameDayInput, GameDayOutcome, GameDayStatus, OfferedTimeline } from "./game-day.js";

// The game day as a Temporal workflow. A worker of the engine claims it; from then on every
// activity goes to that worker's own queue, the process that holds the run. Its runGameDay
// runs the suite; each run's inject phase comes back here as a timeline, played on durable
// timers: every fault is applied and reverted by an activity. Reverts run in non-cancellable
// scopes. `halt` (a signal) ends the current run interrupted, every fault reverted; `status`
// (a query) feeds `faultline watch`. If the worker is lost, its host's dead-man's switch
// reverts its faults, and the next worker of the engine closes the run from its journal.
// This file runs in Temporal's workflow sandbox: it imports types only, nothing of Node's.

export const haltSignal = defineSignal("halt");
export const statusQuery = defineQuery<GameDayStatus>("status");

const EXIT_ENVIRONMENT = 4;
/** How long a game day whose worker died waits for one to come back and close its run. */
const WORKER_BACK_WITHIN = "30 minutes";
/** A step this close to its time is due. */
const DUE_MS = 20;

interface Proxies {
  long: Activities;
  short: Activities;
  reverts: Activities;
}

/** The activities of a claimed game day, on the claiming worker's own queue. */
function proxiesOn(taskQueue: string): Proxies {
  const once = { taskQueue, retry: { maximumAttempts: 1 } };
  return {
    // A worker lost before it takes one is noticed by the schedule-to-start timeout.
    long: proxyActivities<Activities>({
      ...once,
      startToCloseTimeout: "7 days",
      heartbeatTimeout: "10s",
      scheduleToStartTimeout: "1 minute",
    }),
    // Bounded from the schedule on: a worker lost before taking one never answers.
    short: proxyActivities<Activities>({
      ...once,
      startToCloseTimeout: "2 minutes",
      scheduleToCloseTimeout: "2 minutes",
    }),
    reverts: proxyActivities<Activities>({
      taskQueue,
      startToCloseTimeout: "2 minutes",
      // A worker that is gone never takes it: its host's dead-man's switch reverts the fault.
      scheduleToCloseTimeout: "3 minutes",
      retry: { maximumAttempts: 5, initialInterval: "1s" },
    }),
  };
}

/** On the engine's queue: whichever worker of the engine is there. */
const onEngine = (taskQueue: string, scheduleToCloseTimeout: Duration) =>
  proxyActivities<Activities>({
    taskQueue,
    scheduleToCloseTimeout,
    startToCloseTimeout: "2 minutes",
    retry: { maximumAttempts: 1 },
  });

export async function gameDay(started: GameDayInput): Promise<GameDayOutcome> {
  // A schedule starts every game day with the same input: the id is the workflow's own.
  const input = { ...started, id: workflowInfo().workflowId };
  const status: GameDayStatus = {
    id: input.id,
    state: "running",
    engine: input.engine,
    runs: [],
    faults: [],
    halted: false,
  };
  setHandler(statusQuery, () => status);
  setHandler(haltSignal, () => {
    status.halted = true;
  });
  const proxies = proxiesOn(await onEngine(input.taskQueue, "7 days").claimWorker());
  let done = false;
  const suite = proxies.long.runGameDay(input).finally(() => {
    done = true;
  });
  const halting = haltWhenAsked(status, () => done, proxies.short.haltGameDay).catch(() => {});
  // Awaited once the suite is over; a failure of its own (not an activity's) is rethrown then.
  const timelines = playTimelines(input.id, status, () => done, proxies).then(
    () => undefined,
    (error: unknown) => ({ error }),
  );
  let outcome: GameDayOutcome;
  try {
    outcome = await suite;
    status.state = "finished";
  } catch (error) {
    if (!(error instanceof ActivityFailure)) throw error;
    outcome = await suiteFailed(input, status, error);
  }
  const [failed] = await Promise.all([timelines, halting]);
  if (failed) throw failed.error;
  status.outcome = outcome;
  return outcome;
}

/**
 * The suite's activity failed. A worker whose heartbeats stopped is lost: its host's switch
 * reverts what it held, and once a worker of the engine is back (within WORKER_BACK_WITHIN) it
 * closes the last run from its journal (verdict errored, reports, history row). Any other
 * failure is the worker's error, reported as it is.
 */
async function suiteFailed(
  input: GameDayInput,
  status: GameDayStatus,
  error: ActivityFailure,
): Promise<GameDayOutcome> {
  if (!(error.cause instanceof TimeoutFailure)) {
    status.state = "finished";
    return {
      id: input.id,
      runs: [],
      exitCode: EXIT_ENVIRONMENT,
      error: `the game day failed on its worker: ${error.cause?.message ?? error.message}`,
    };
  }
  status.state = "worker-lost";
  const reason = `the worker of engine ${input.engine} was lost mid-run (${error.cause.message}); the faults it held are reverted by its host's dead-man's switch (\`faultline recover\` there checks)`;
  const lastRun = status.runs[status.runs.length - 1];
  const runs = [];
  if (lastRun) {
    try {
      runs.push(await onEngine(input.taskQueue, WORKER_BACK_WITHIN).closeLostRun(input, lastRun, reason));
    } catch {
      // No worker came back in time: the run's journal stays as the worker left it.
    }
  }
  return { id: input.id, runs, exitCode: EXIT_ENVIRONMENT, error: reason };
}

/** Asks the worker to halt once `halt` is signalled (and the suite still runs). */
async function haltWhenAsked(
  status: GameDayStatus,
  done: () => boolean,
  halt: Activities["haltGameDay"],
): Promise<void> {
  await condition(() => status.halted || done());
  if (done()) return;
  status.state = "halting";
  // Until the worker has the suite in hand (it may not have started it yet), ask again.
  while (!done() && !(await unless(done, halt(status.id), true))) await condition(done, 1000);
}

/**
 * Each run's timeline, as the worker offers it, until the suite has no more. A run whose
 * timeline failed (an apply the run refused, a revert that never succeeded) is the run's to
 * judge: the next run's timeline is played as usual.
 */
async function playTimelines(
  id: string,
  status: GameDayStatus,
  done: () => boolean,
  proxies: Proxies,
): Promise<void> {
  for (;;) {
    let timeline: OfferedTimeline | null;
    try {
      // A lost worker offers no more: its run is closed from its journal (suiteFailed).
      timeline = await unless(() => lost(status) || done(), proxies.long.nextTimeline(id), null);
    } catch (error) {
      // The worker is gone; the suite's own failure says so.
      if (error instanceof ActivityFailure) return;
      throw error;
    }
    if (!timeline) return;
    status.runs.push(timeline.runId);
    try {
      await play(id, timeline, status, done, proxies);
    } catch (error) {
      if (!(error instanceof ActivityFailure)) throw error;
    }
  }
}

async function play(
  id: string,
  timeline: OfferedTimeline,
  status: GameDayStatus,
  done: () => boolean,
  proxies: Proxies,
) {
  const { runId } = timeline;
  const states = new Map<string, FaultState>();
  for (const step of timeline.steps) {
    if (step.kind !== "apply") continue;
    const state: FaultState = {
      runId,
      actionId: step.actionId,
      description: step.description,
      state: "pending",
    };
    states.set(step.actionId, state);
    status.faults.push(state);
  }
  try {
    for (const step of timeline.steps) {
      const state = states.get(step.actionId);
      if (!state) continue;
      // A durable timer: the step's time, unless the game day is halted or over first. A step
      // due already goes now (a timer of a few milliseconds fires a second late).
      const delay = step.atEpochMs - Date.now();
      const stop = () => status.halted || done();
      if (delay > DUE_MS ? await condition(stop, delay) : stop()) return;
      if (step.kind === "revert") {
        if (state.state !== "applied") continue;
        if (await revertUnlessLost(status, () => proxies.reverts.revertFault(id, runId, step.actionId)))
          state.state = "reverted";
        continue;
      }
      const outcome = await unless(() => lost(status), proxies.short.applyFault(id, runId, step.actionId), {
        applied: false,
        reason: "the worker was lost",
      });
      if (!outcome.applied) return;
      state.state = "applied";
    }
  } finally {
    for (const state of states.values()) if (state.state === "pending") state.state = "skipped";
    await revertAll(id, status, states, proxies.reverts);
  }
}

/**
 * A revert on the claimed worker, in a non-cancellable scope: true once done. Given up (false)
 * as soon as that worker is known lost: nobody would take it, and its host's dead-man's
 * switch reverts the fault.
 */
function revertUnlessLost(status: GameDayStatus, revert: () => Promise<void>): Promise<boolean> {
  return unless(
    () => lost(status),
    CancellationScope.nonCancellable(revert).then(() => true),
    false,
  );
}

const lost = (status: GameDayStatus) => status.state === "worker-lost";

/**
 * `work` (an activity on the claimed worker), or `value` once `stop` holds (the worker is known
 * lost, the suite is over): nobody would answer. The race handles a late rejection of the
 * abandoned activity.
 */
function unless<T, V>(stop: () => boolean, work: Promise<T>, value: V): Promise<T | V> {
  return Promise.race([work, condition(stop).then(() => value)]);
}

/** Every fault of the run still applied, reverted: a no-op for what the run reverted itself. */
async function revertAll(
  id: string,
  status: GameDayStatus,
  states: Map<string, FaultState>,
  reverts: Activities,
): Promise<void> {
  for (const state of states.values()) {
    if (state.state !== "applied") continue;
    try {
      if (await revertUnlessLost(status, () => reverts.revertFault(id, state.runId, state.actionId)))
        state.state = "reverted";
    } catch {
      // No worker to revert it: its host's dead-man's switch does.
    }
  }
}
