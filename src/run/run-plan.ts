import { type Experiment, probeTimeoutMs } from "../experiments/schema.js";

/** A run's phases in whole seconds, and how long traffic takes to settle. */
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
