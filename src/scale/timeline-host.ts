import { EnvironmentError } from "../errors.js";
import type { PlannedAction } from "../experiments/plan.js";
import type { CleanupEntry } from "../lifecycle/cleanup-registry.js";
import type { Timeline } from "../run/phases.js";
import type { RunContext } from "../run/run-context.js";
import type { ApplyOutcome, OfferedTimeline, TimelineStep } from "./game-day.js";

// The worker's side of a workflow-driven timeline. A run in the worker reaches its inject
// phase and offers its timeline (the steps at wall-clock times); the workflow takes it
// (nextTimeline), sleeps on durable timers and calls applyFault / revertFault, which land
// here, in the run's own fault session: ledger, journal, watchdog as for any run. The run
// meanwhile measures and watches its abort conditions; when it stops (an abort, a halt, an
// error), the timeline is over and later applies are refused. A revert the workflow has not
// sent by the end of the timeline (plus REVERT_GRACE_MS) is done here. A fault the workflow
// has not begun to apply APPLY_LATE_MS after its time fails the run: it would pass unfaulted.

export const REVERT_GRACE_MS = 500;
export const APPLY_LATE_MS = 5000;

interface LiveTimeline {
  run: RunContext;
  actions: Map<string, PlannedAction>;
  startMs: number;
  applied: Map<string, CleanupEntry>;
  /** Faults whose apply has begun (applied, failed or since reverted). */
  begun: Set<string>;
  /** Applies in progress: awaited before the timeline is over, so none lands after it. */
  applying: Set<Promise<unknown>>;
  closed: boolean;
  failure?: unknown;
}

type Waiter = (timeline: OfferedTimeline | undefined) => void;

export class TimelineHost {
  private readonly live = new Map<string, LiveTimeline>();
  private readonly offered = new Map<string, OfferedTimeline[]>();
  private readonly waiters = new Map<string, Waiter>();
  private readonly ended = new Set<string>();

  /** The Timeline the game day's runs use: each run's inject phase goes to the workflow. */
  timelineFor(gameDay: string): Timeline {
    return async (run, actions, startMs) => {
      const live: LiveTimeline = {
        run,
        actions: new Map(actions.map((a) => [a.id, a])),
        startMs,
        applied: new Map(),
        begun: new Set(),
        applying: new Set(),
        closed: false,
      };
      this.live.set(gameDay, live);
      this.offer(gameDay, { runId: run.runId, steps: stepsOf(run, actions, startMs) });
      try {
        const end = Math.max(startMs, ...actions.map((a) => startMs + a.untilMs)) + REVERT_GRACE_MS;
        await waitOut(live, end);
      } finally {
        live.closed = true;
        await Promise.allSettled([...live.applying]);
        this.live.delete(gameDay);
      }
      // Normally nothing is left by now; what is (an apply that landed as the timeline closed)
      // goes at once. On a throw, the run's rollback drains the session instead.
      await releaseDue(live, Number.POSITIVE_INFINITY);
    };
  }

  /** The next timeline of the game day, once offered; undefined once the game day is over. */
  next(gameDay: string, signal: AbortSignal): Promise<OfferedTimeline | undefined> {
    const queued = this.offered.get(gameDay)?.shift();
    if (queued) return Promise.resolve(queued);
    if (this.ended.delete(gameDay)) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.waiters.delete(gameDay);
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiters.set(gameDay, (timeline) => {
        signal.removeEventListener("abort", onAbort);
        resolve(timeline);
      });
    });
  }

  async apply(gameDay: string, runId: string, actionId: string): Promise<ApplyOutcome> {
    const live = this.live.get(gameDay);
    if (!live || live.run.runId !== runId || live.closed || live.failure !== undefined)
      return { applied: false, reason: "the run's inject phase is over (it ended, was halted or aborted)" };
    const action = live.actions.get(actionId);
    if (!action) return { applied: false, reason: `the run has no fault ${actionId}` };
    if (live.run.loop.elapsedMs() >= live.startMs + action.untilMs)
      return { applied: false, reason: `fault ${actionId}'s time is over` };
    live.begun.add(actionId);
    const revertBy = live.run.loop.t0 + live.startMs + action.untilMs;
    const applying = live.run.session.apply(action, revertBy);
    live.applying.add(applying);
    try {
      live.applied.set(actionId, await applying);
      return { applied: true, second: live.run.loop.second() };
    } catch (error) {
      // The run stops on it, as it would in-process; the session journaled the failure.
      live.failure = error;
      throw error;
    } finally {
      live.applying.delete(applying);
    }
  }

  /** Reverts the fault; it counts as reverted only once the revert succeeded. */
  async revert(gameDay: string, runId: string, actionId: string): Promise<void> {
    const live = this.live.get(gameDay);
    if (!live || live.run.runId !== runId) return;
    await live.applied.get(actionId)?.release();
    live.applied.delete(actionId);
  }

  /** The game day's runs are all done: a workflow waiting for a timeline hears there is none. */
  end(gameDay: string): void {
    this.offered.delete(gameDay);
    const waiter = this.waiters.get(gameDay);
    this.waiters.delete(gameDay);
    if (waiter) waiter(undefined);
    else this.ended.add(gameDay);
  }

  private offer(gameDay: string, timeline: OfferedTimeline): void {
    const waiter = this.waiters.get(gameDay);
    this.waiters.delete(gameDay);
    if (waiter) waiter(timeline);
    else this.offered.set(gameDay, [...(this.offered.get(gameDay) ?? []), timeline]);
  }
}

/** The run's actions as wall-clock steps; at the same moment, reverts first (as in-process). */
function stepsOf(run: RunContext, actions: readonly PlannedAction[], startMs: number): TimelineStep[] {
  const epoch = (ms: number) => Date.now() + (startMs + ms - run.loop.elapsedMs());
  return actions
    .flatMap((action): TimelineStep[] => [
      { actionId: action.id, kind: "apply", atEpochMs: epoch(action.atMs), description: action.description },
      {
        actionId: action.id,
        kind: "revert",
        atEpochMs: epoch(action.untilMs),
        description: action.description,
      },
    ])
    .sort((a, b) => a.atEpochMs - b.atEpochMs || (a.kind === "revert" ? -1 : 1));
}

/**
 * The run's clock until `targetMs` (it measures and watches its abort conditions meanwhile),
 * ending early on a failed apply. Each fault whose revert the workflow has not sent within
 * REVERT_GRACE_MS of its time is reverted here, at that moment.
 */
async function waitOut(live: LiveTimeline, targetMs: number): Promise<void> {
  const { loop } = live.run;
  for (;;) {
    if (live.failure !== undefined) throw live.failure;
    await releaseDue(live, loop.elapsedMs());
    const done = loop.elapsedMs() >= targetMs;
    checkBegun(live, done ? Number.POSITIVE_INFINITY : loop.elapsedMs());
    if (done) return;
    await loop.until(Math.min(targetMs, loop.elapsedMs() + 100));
  }
}

/**
 * Fails the run when a fault due APPLY_LATE_MS before `nowMs` (Infinity: any fault) has not
 * begun: a workflow that is not applying (a server gone, an apply lost) must not yield a pass.
 */
function checkBegun(live: LiveTimeline, nowMs: number): void {
  for (const action of live.actions.values()) {
    if (live.begun.has(action.id) || live.startMs + action.atMs + APPLY_LATE_MS > nowMs) continue;
    throw new EnvironmentError(
      `the workflow did not apply ${action.id} (${action.description}): the run cannot be judged without its fault`,
      { suggestion: "check the Temporal server and the worker (faultline doctor --temporal ADDR)" },
    );
  }
}

/** Reverts every applied fault whose time plus the grace is at or before `nowMs`. */
async function releaseDue(live: LiveTimeline, nowMs: number): Promise<void> {
  for (const [id, entry] of [...live.applied]) {
    const action = live.actions.get(id);
    if (!action || live.startMs + action.untilMs + REVERT_GRACE_MS > nowMs) continue;
    await entry.release();
    live.applied.delete(id);
  }
}
