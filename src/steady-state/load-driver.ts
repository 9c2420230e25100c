import type { Sample } from "./sample.js";

export interface LoadPlan {
  /** Absolute URL requested, always on 127.0.0.1 (the replica's published load balancer). */
  url: string;
  ratePerSecond: number;
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
 * Drives load at a constant arrival rate (an open model: requests are sent on schedule
 * whether or not earlier ones have answered, as real clients do) and streams each result.
 */
export interface LoadDriver {
  readonly name: string;
  version(): Promise<string>;
  start(plan: LoadPlan, onSample: (sample: Sample) => void): RunningLoad;
}
