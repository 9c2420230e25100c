import { readLedger } from "../lifecycle/ledger.js";
import { TimeLimitError, withTimeLimit } from "../lifecycle/time-limit.js";
import { connectReplica, reviveReplica } from "../replica/replica.js";
import { type Recovered, recoverReplica } from "./recover.js";

/** How long `faultline recover` may take in all, by default. */
export const RECOVER_LIMIT_MS = 180_000;

export interface RecoverOutcome {
  started: string[];
  recovered: Recovered[];
  errors: string[];
}

/**
 * `faultline recover` under a total time limit: starts the replica's stopped services, then
 * reverts and sweeps (recoverReplica). When the limit runs out, every Docker call still in
 * flight is aborted and the outcome says so, with what the fault ledger still holds, instead
 * of waiting on an engine that does not answer.
 */
export async function recoverWithin(
  name: string,
  limitMs: number = RECOVER_LIMIT_MS,
  progress: (message: string) => void = () => {},
): Promise<RecoverOutcome> {
  const done: RecoverOutcome = { started: [], recovered: [], errors: [] };
  try {
    return await withTimeLimit(`recover of replica ${name}`, limitMs, async () => {
      done.started = await reviveReplica(name, progress);
      const replica = await connectReplica(name);
      await recoverReplica(replica, done);
      return done;
    });
  } catch (error) {
    if (!(error instanceof TimeLimitError)) throw error;
    const left = readLedger(name).entries;
    // What was done before the limit ran out is reported too.
    return {
      started: done.started,
      recovered: [...done.recovered],
      errors: [
        ...done.errors,
        error.message,
        ...(left.length > 0
          ? [
              `still in the fault ledger: ${left.map((e) => `${e.faultId} of run ${e.runId} (${e.description})`).join(", ")}`,
            ]
          : []),
      ],
    };
  }
}
