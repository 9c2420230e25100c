import { AsyncLocalStorage } from "node:async_hooks";
import { EnvironmentError } from "../errors.js";

// A total time limit for a piece of work made of many steps (a drain of the cleanup registry,
// `recover`). The limit is an abort signal carried in the async context: every Docker engine
// call made inside the work, however deep, is cut short when the limit runs out (see
// src/replica/engine.ts), so nothing of the work is left waiting on a hung engine.

/** The work did not finish within its total time limit. */
export class TimeLimitError extends EnvironmentError {
  constructor(
    readonly what: string,
    readonly limitMs: number,
  ) {
    super(`${what} did not finish within its time limit of ${formatSeconds(limitMs)}`, {
      suggestion: "check that the Docker engine answers (`docker info`), then run `faultline recover`",
    });
  }
}

export function formatSeconds(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${Number((ms / 1000).toFixed(1))}s`;
}

const scope = new AsyncLocalStorage<AbortSignal>();

/** The signal of the innermost time limit the caller runs under, if any. */
export function currentLimit(): AbortSignal | undefined {
  return scope.getStore();
}

/** The error an aborted signal stands for: its reason when that is an Error. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const error = new Error(typeof reason === "string" ? reason : "the operation was aborted");
  error.name = "AbortError";
  return error;
}

/** Rejects with the signal's reason once it aborts (never resolves). */
export function rejectOnAbort(signal: AbortSignal): { promise: Promise<never>; dispose: () => void } {
  let dispose = () => {};
  const promise = new Promise<never>((_, reject) => {
    if (signal.aborted) return reject(abortReason(signal));
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    dispose = () => signal.removeEventListener("abort", onAbort);
  });
  return { promise, dispose };
}

export interface TimeLimitOptions {
  /** An outer signal (Ctrl-C, say): aborting it ends the work too. */
  signal?: AbortSignal;
}

/**
 * Runs `work` with a total time limit of `limitMs`, nested inside any limit the caller already
 * runs under (Infinity: only the caller's). When the limit runs out, the returned promise rejects at once with a
 * TimeLimitError, and every engine call still in flight inside `work` is aborted.
 */
export async function withTimeLimit<T>(
  what: string,
  limitMs: number,
  work: (signal: AbortSignal) => Promise<T>,
  options: TimeLimitOptions = {},
): Promise<T> {
  const controller = new AbortController();
  // An infinite limit sets no timer (setTimeout would fire it at once); parents still apply.
  const timer = Number.isFinite(limitMs)
    ? setTimeout(() => controller.abort(new TimeLimitError(what, limitMs)), limitMs)
    : undefined;
  timer?.unref();
  const parents = [currentLimit(), options.signal].filter((s): s is AbortSignal => s !== undefined);
  const signal = parents.length > 0 ? AbortSignal.any([controller.signal, ...parents]) : controller.signal;
  const aborted = rejectOnAbort(signal);
  const running = scope.run(signal, () => work(signal));
  // Once the limit has won the race, a late rejection of the abandoned work is expected.
  running.catch(() => {});
  try {
    return await Promise.race([running, aborted.promise]);
  } finally {
    clearTimeout(timer);
    aborted.dispose();
  }
}
