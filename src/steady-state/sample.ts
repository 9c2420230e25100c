/** One request's outcome as the load driver saw it. */
export interface Sample {
  /** When the request was sent, epoch milliseconds. */
  startedAt: number;
  latencyMs: number;
  /** HTTP status; 0 when no response came back (timeout, reset, refused). */
  status: number;
  /** Transport error or timeout text; empty when a response came back. */
  error: string;
  /** The edge that served it (X-Edge response header), when known. */
  edge: string | undefined;
  /** The name of the mix's request it was, when the load is a named mix. */
  request?: string | undefined;
  /** The edge cache's verdict (X-Cache: HIT, MISS, EXPIRED, STALE...), when it said one. */
  cache?: string | undefined;
}

/** Errors for steady-state purposes: no response, or a 5xx. */
export function isError(sample: Pick<Sample, "status" | "error">): boolean {
  return sample.error !== "" || sample.status === 0 || sample.status >= 500;
}

export function statusClass(status: number): string {
  return status === 0 ? "none" : `${Math.floor(status / 100)}xx`;
}
