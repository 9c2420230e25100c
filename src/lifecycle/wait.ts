import { setTimeout as sleep } from "node:timers/promises";
import { FaultlineError } from "../errors.js";

export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleep(ms, undefined, signal ? { signal } : undefined),
};

export class WaitTimeoutError extends Error {
  constructor(
    readonly description: string,
    readonly timeoutMs: number,
    readonly lastReason: string | undefined,
  ) {
    super(
      `timed out after ${timeoutMs / 1000}s waiting for ${description}${lastReason ? ` (last: ${lastReason})` : ""}`,
    );
  }
}

export interface WaitOptions {
  description: string;
  timeoutMs: number;
  intervalMs?: number;
  clock?: Clock;
  signal?: AbortSignal;
}

/**
 * Polls `probe` until it returns { done: true } or the deadline passes. The single polling
 * helper of the code base: every wait is bounded, named, and testable with a fake clock.
 * Untyped errors from the probe count as "not yet"; a FaultlineError ends the wait at once.
 */
export async function waitUntil<T>(
  probe: () => Promise<{ done: true; value: T } | { done: false; reason: string }>,
  options: WaitOptions,
): Promise<T> {
  const clock = options.clock ?? systemClock;
  const deadline = clock.now() + options.timeoutMs;
  let lastReason: string | undefined;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const result = await probe();
      if (result.done) return result.value;
      lastReason = result.reason;
    } catch (error) {
      // A typed error is a verdict, not a transient failure: waiting longer cannot fix it.
      if (error instanceof FaultlineError) throw error;
      lastReason = error instanceof Error ? error.message : String(error);
    }
    if (clock.now() >= deadline)
      throw new WaitTimeoutError(options.description, options.timeoutMs, lastReason);
    await clock.sleep(options.intervalMs ?? 250, options.signal);
  }
}
