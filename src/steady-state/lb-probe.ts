import { setTimeout as sleep } from "node:timers/promises";
import { type EdgeState, edgeStates, popStates, type Replica } from "../replica/replica.js";

export interface LbStateChange {
  /** The edge, or with `pop` set, the PoP whose state changed. */
  edge: string;
  /** True when the global traffic layer changed its view of a PoP. */
  pop?: boolean;
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
      const [edges, pops] = await Promise.allSettled([
        edgeStates(replica),
        replica.topology.pops ? popStates(replica) : Promise.resolve(new Map<string, EdgeState>()),
      ]);
      const at = Date.now();
      // A failed poll is skipped: the LB itself may be the fault's target, and its absence
      // is visible in the traffic.
      const seen = (key: string, change: LbStateChange) => {
        if (last.get(key) === change.state) return;
        if (last.has(key)) onChange(change);
        last.set(key, change.state);
      };
      if (edges.status === "fulfilled")
        for (const [edge, state] of edges.value) seen(edge, { edge, state, at });
      if (pops.status === "fulfilled")
        for (const [pop, state] of pops.value) seen(`pop:${pop}`, { edge: pop, pop: true, state, at });
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
