import { errorMessage } from "../errors.js";
import type { PlannedAction } from "../experiments/plan.js";
import { type CleanupEntry, DRAIN_LIMIT_MS } from "../lifecycle/cleanup-registry.js";
import { readLedger } from "../lifecycle/ledger.js";
import { holds } from "../steady-state/checks.js";
import { evaluatePhase } from "../verdict/evaluation.js";
import type { Instruments } from "./instruments.js";
import type { RunContext } from "./run-context.js";
import { AbortConditionBreached } from "./run-loop.js";

// The phases of a run on its clock, in the order the runner calls them: the baseline gate,
// the method on its timeline (inject, then recover), verify, the load settled; and whatever
// happened, the rollback. The verdict is src/run/verdict-phase.ts.

/** Warmup, then the baseline: true when every baseline window held, so faults may be injected. */
export async function baselineGate(run: RunContext): Promise<boolean> {
  const { loop, plan, experiment } = run;
  loop.enterPhase("warmup", 0, plan.warmupSeconds);
  await loop.until(plan.warmupSeconds * 1000);
  const start = plan.warmupSeconds;
  loop.enterPhase("baseline", start, plan.baselineSeconds);
  const end = start + plan.baselineSeconds;
  // The baseline verdict needs every request of the baseline to have settled.
  await loop.until(end * 1000 + plan.settleMs);
  const baseline = evaluatePhase(
    loop.measurements,
    { start, end },
    experiment.steadyState.checks,
    "baseline",
    plan.windowSeconds,
  );
  return baseline.every((w) => w.results.every(holds));
}

/**
 * The inject phase, with every fault applied and reverted on its timeline and the abort
 * conditions watched, then the recover phase. Returns the second verify starts at.
 */
export async function methodAndTimeline(
  run: RunContext,
  actions: readonly PlannedAction[],
  timeline: Timeline = runTimeline,
): Promise<number> {
  const { loop, plan } = run;
  const injectStart = Math.ceil(loop.elapsedMs() / 1000);
  await loop.until(injectStart * 1000);
  loop.enterPhase("inject", injectStart, plan.injectSeconds);
  loop.watchAbortConditions({ start: injectStart, end: injectStart + plan.injectSeconds });
  await timeline(run, actions, injectStart * 1000);
  const recoverStart = injectStart + plan.injectSeconds;
  await loop.until(recoverStart * 1000);
  loop.enterPhase("recover", recoverStart, plan.recoverSeconds);
  return recoverStart + plan.recoverSeconds;
}

/**
 * Who applies and reverts the faults of the inject phase, on the run's clock from `startMs`
 * (milliseconds since t0): this process (runTimeline), or a Temporal workflow on its durable
 * timers (src/scale/timeline-host.ts). It returns once every action's time is over.
 */
export type Timeline = (run: RunContext, actions: readonly PlannedAction[], startMs: number) => Promise<void>;

type Step = { atMs: number; kind: "apply" | "revert"; action: PlannedAction };

/** Applies and reverts each action at its time after `startMs` (milliseconds since t0). */
export const runTimeline: Timeline = async (run, actions, startMs) => {
  const { loop, session } = run;
  const steps: Step[] = actions
    .flatMap((action): Step[] => [
      { atMs: startMs + action.atMs, kind: "apply", action },
      { atMs: startMs + action.untilMs, kind: "revert", action },
    ])
    // At the same moment, reverts go first: a node comes back before another is taken out.
    .sort((a, b) => a.atMs - b.atMs || (a.kind === "revert" ? -1 : 1));
  const applied = new Map<string, CleanupEntry>();
  for (const step of steps) {
    await loop.until(step.atMs);
    if (step.kind === "revert") {
      await applied.get(step.action.id)?.release();
    } else {
      applied.set(step.action.id, await session.apply(step.action, loop.t0 + startMs + step.action.untilMs));
    }
  }
};

/** The verify phase: the steady state must hold again once every fault is reverted. */
export async function verify(run: RunContext, verifyStart: number): Promise<void> {
  const { loop, plan } = run;
  await loop.until(verifyStart * 1000);
  loop.enterPhase("verify", verifyStart, plan.verifySeconds);
  await loop.until((verifyStart + plan.verifySeconds) * 1000);
}

/** Stops the load and waits for what is in flight, so that the last windows are whole. */
export async function settleLoad(run: RunContext, instruments: Instruments): Promise<void> {
  const endSecond = Math.floor(run.loop.elapsedMs() / 1000);
  instruments.load.stop();
  // Samples and requests in flight belong to the last window: wait for them (each is bounded
  // by its timeout) before the last windows are judged.
  await Promise.all([instruments.load.finished, instruments.probes?.stop({ waitForInFlight: true })]);
  run.loop.releaseUpTo(endSecond);
}

/** Journals why the phases stopped early: an abort condition (journaled already), a signal, an error. */
export function recordStop(run: RunContext, error: unknown): void {
  if (error instanceof AbortConditionBreached) {
    // Journaled where it was detected; the rollback reverts every fault at once.
  } else if (run.signal.aborted) {
    const reason: unknown = run.signal.reason;
    run.journal.write({ type: "interrupted", signal: typeof reason === "string" ? reason : "abort" });
  } else {
    run.journal.write({ type: "error", message: errorMessage(error) });
  }
}

/**
 * Whatever happened: stops the guard, reverts every fault still applied (within
 * DRAIN_LIMIT_MS when the guard saw the engine or the replica go away), then stops the
 * instruments, and journals what the fault ledger still holds.
 */
export async function rollback(run: RunContext, instruments: Instruments): Promise<void> {
  const { journal, replica, runId } = run;
  const lost = instruments.guard.problem() !== undefined;
  instruments.guard.stop();
  for (const [registry, options] of [
    [run.session.registry, lost ? { limitMs: DRAIN_LIMIT_MS } : {}],
    [instruments.registry, {}],
  ] as const) {
    try {
      await registry.drain(options);
    } catch (error) {
      journal.write({ type: "error", message: `cleanup failed: ${errorMessage(error)}` });
    }
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
