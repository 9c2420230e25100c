import { setTimeout as sleep } from "node:timers/promises";
import { type EdgeState, edgeStates, type Replica } from "../replica/replica.js";

export interface LbStateChange {
  edge: string;
  state: EdgeState;
  /** Epoch milliseconds when the probe saw the change. */
  at: number;
}

/**
 * Polls HAProxy's view of the edges (its stats CSV) and reports every change of state: the
 * moment the load balancer marks a node down or up is what "time to detect" is measured
 * against. A failed poll is skipped, not reported as a change.
 */
export function startLbProbe(
  replica: Replica,
  onChange: (change: LbStateChange) => void,
  intervalMs = 250,
): { stop(): Promise<void> } {
  const controller = new AbortController();
  const last = new Map<string, EdgeState>();
  const loop = (async () => {
    while (!controller.signal.aborted) {
      try {
        const states = await edgeStates(replica);
        const at = Date.now();
        for (const [edge, state] of states) {
          if (last.get(edge) !== state) {
            if (last.has(edge)) onChange({ edge, state, at });
            last.set(edge, state);
          }
        }
      } catch {
        // The LB itself may be the fault's target; its absence is visible in the traffic.
      }
      await sleep(intervalMs, undefined, { signal: controller.signal }).catch(() => {});
    }
  })();
  return {
    stop: async () => {
      controller.abort();
      await loop;
    },
  };
}
