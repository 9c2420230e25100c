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
 * Polls HAProxy's view of the edges (its stats CSV) and reports each node's first state, then
 * every change: the moment the load balancer marks a node down or up is what "time to detect"
 * is measured against, and the live view shows the load balancer's view from the start. A
 * failed poll is skipped, not reported as a change.
 */
export function startLbProbe(
  replica: Replica,
  onChange: (change: LbStateChange) => void,
  intervalMs = 250,
): { stop(): Promise<void> } {
  const controller = new AbortController();
  const last = new Map<string, EdgeState>();
  const seen = (key: string, change: LbStateChange) => {
    if (last.get(key) === change.state) return;
    last.set(key, change.state);
    onChange(change);
  };
  // The edges' load balancers and the global layer are polled in loops of their own: a
  // paused load balancer's stats page hangs until its timeout, and must not slow the other.
  // A failed poll is skipped: the LB itself may be the fault's target, and its absence is
  // visible in the traffic.
  const poll = async (
    read: () => Promise<Map<string, EdgeState>>,
    report: (key: string, state: EdgeState, at: number) => void,
  ) => {
    while (!controller.signal.aborted) {
      try {
        const states = await read();
        const at = Date.now();
        for (const [key, state] of states) report(key, state, at);
      } catch {
        // skipped
      }
      await sleep(intervalMs, undefined, { signal: controller.signal }).catch(() => {});
    }
  };
  const loops = [
    poll(
      () => edgeStates(replica),
      (edge, state, at) => seen(edge, { edge, state, at }),
    ),
    ...(replica.topology.pops
      ? [
          poll(
            () => popStates(replica),
            (pop, state, at) => seen(`pop:${pop}`, { edge: pop, pop: true, state, at }),
          ),
        ]
      : []),
  ];
  const loop = Promise.all(loops);
  return {
    stop: async () => {
      controller.abort();
      await loop;
    },
  };
}
