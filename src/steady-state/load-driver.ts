import type { Sample } from "./sample.js";

/** One named request of a mix; its path is resolved against the plan's url. */
export interface PlannedRequest {
  name: string;
  method: string;
  path: string;
  headers: Readonly<Record<string, string>>;
  body?: string | undefined;
  /** The Host header, when it is not the entry point's. */
  host?: string | undefined;
  weight: number;
}

/** A leg of the rate, linear from `from` to `to` requests per second. */
export interface PlannedStage {
  durationMs: number;
  from: number;
  to: number;
}

export interface LoadPlan {
  /**
   * Absolute URL on loopback (the replica's published entry point): what is requested when the
   * plan has no `requests`, else the origin their paths resolve against.
   */
  url: string;
  /** The constant rate; with stages, their peak (what the driver sizes its workers for). */
  ratePerSecond: number;
  /** The rate's legs from the load's start; the last `to` holds after them. Empty: constant. */
  stages?: readonly PlannedStage[] | undefined;
  /** A weighted mix; samples then carry the request's name. */
  requests?: readonly PlannedRequest[] | undefined;
  /** Share (0..1) of requests made unique with a query parameter: cache misses. */
  cacheBust?: number | undefined;
  /** A cap on open connections. */
  maxConnections?: number | undefined;
  /** Over HTTPS, offer HTTP/2 through ALPN (default true). */
  http2?: boolean | undefined;
  /** Upper bound on the load's duration: the driver stops by itself at the latest then. */
  maxDurationMs: number;
  timeoutMs: number;
  /** keep-alive (default): connections are reused; new: one connection (and handshake) per request. */
  connection?: "keep-alive" | "new";
  /** An https URL: the CA file the served chain must verify against (the replica's own). */
  caFile?: string;
}

export interface RunningLoad {
  /** Resolves when the driver has exited and every sample has been delivered. */
  readonly finished: Promise<LoadSummary>;
  /** Stops sending new requests; in-flight ones still report. Idempotent. */
  stop(): void;
}

export interface LoadSummary {
  samples: number;
  exitCode: number | null;
  stderr: string;
}

/**
 * Drives load at an arrival rate that is constant or follows stages (an open model: requests are sent on schedule
 * whether or not earlier ones have answered, as real clients do) and streams each result.
 */
export interface LoadDriver {
  readonly name: string;
  version(): Promise<string>;
  start(plan: LoadPlan, onSample: (sample: Sample) => void): RunningLoad;
}
