import { waitUntil } from "../../src/lifecycle/wait.js";
import { type EdgeState, edgeStates, type Replica } from "../../src/replica/replica.js";

/** Milliseconds until HAProxy reports `edge` in `state`, polling its stats every 100 ms. */
export async function timeUntilLb(
  replica: Replica,
  edge: string,
  state: EdgeState,
  timeoutMs = 30_000,
): Promise<number> {
  const started = Date.now();
  await waitUntil(
    async () => {
      const current = (await edgeStates(replica)).get(edge);
      return current === state
        ? { done: true, value: undefined }
        : { done: false, reason: `${edge} is ${current}` };
    },
    { description: `HAProxy to report ${edge} ${state}`, timeoutMs, intervalMs: 100 },
  );
  return Date.now() - started;
}
