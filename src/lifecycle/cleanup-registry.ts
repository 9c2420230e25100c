/**
 * Everything Faultline applies is registered here with the action that undoes it. Draining
 * runs the undo actions last-in first-out; a failing action does not stop the others, and
 * the failures are reported together (the first one as the cause). Drained in `finally`,
 * on SIGINT/SIGTERM, and by `faultline recover` for what a crashed run left behind.
 */
import { TimeLimitError, withTimeLimit } from "./time-limit.js";

export interface CleanupEntry {
  readonly description: string;
  /**
   * Runs this entry's undo now and removes it from the registry. Idempotent once it succeeded;
   * after a failure, a later call tries the undo again (a revert retried by its caller).
   */
  release(): Promise<void>;
}

export class CleanupError extends AggregateError {
  constructor(readonly failures: { description: string; error: unknown }[]) {
    super(
      failures.map((f) => f.error),
      `${failures.length} cleanup action(s) failed: ${failures
        .map((f) => `${f.description}: ${f.error instanceof Error ? f.error.message : String(f.error)}`)
        .join("; ")}`,
      { cause: failures[0]?.error },
    );
    this.name = "CleanupError";
  }
}

interface Pending {
  description: string;
  undo: () => Promise<void>;
  done: Promise<void> | undefined;
}

/**
 * How long the drain after the replica guard fired may take in all: the engine or the replica
 * went away, so reverts may never answer. Other drains are bounded by each engine call's own
 * deadline, so a long list of legitimate reverts is never cut short.
 */
export const DRAIN_LIMIT_MS = 60_000;

export interface DrainOptions {
  /** The drain's total time limit; what is not undone by then is reported, not waited for. */
  limitMs?: number;
}

export class CleanupRegistry {
  private readonly entries: Pending[] = [];
  private draining: Promise<void> | undefined;

  constructor(private readonly options: DrainOptions = {}) {}

  get size(): number {
    return this.entries.length;
  }

  register(description: string, undo: () => Promise<void>): CleanupEntry {
    const entry: Pending = { description, undo, done: undefined };
    this.entries.push(entry);
    return {
      description,
      release: () => this.run(entry),
    };
  }

  private run(entry: Pending): Promise<void> {
    if (entry.done) return entry.done;
    const done = (async () => {
      try {
        await entry.undo();
      } finally {
        const index = this.entries.indexOf(entry);
        if (index >= 0) this.entries.splice(index, 1);
      }
    })();
    entry.done = done;
    // A failed undo may be tried again by its owner (the drain does not come back to it; the
    // ledger and the watchdog do).
    done.catch(() => {
      if (entry.done === done) entry.done = undefined;
    });
    return done;
  }

  /**
   * Undoes everything still registered, newest first. Concurrent calls share one drain. With a
   * total time limit (the call's, else the registry's), when it runs out, the Docker calls
   * still in flight are aborted, and every entry not undone yet is reported in the
   * CleanupError with the time limit as its error; those not started stay registered.
   */
  drain(options: DrainOptions = {}): Promise<void> {
    const limitMs = options.limitMs ?? this.options.limitMs ?? Number.POSITIVE_INFINITY;
    this.draining ??= this.drainWithin(limitMs).finally(() => {
      this.draining = undefined;
    });
    return this.draining;
  }

  private async drainWithin(limitMs: number): Promise<void> {
    const failures: { description: string; error: unknown }[] = [];
    const seen: Pending[] = [];
    const finished = new Set<Pending>();
    try {
      await withTimeLimit("undoing what was applied", limitMs, async (signal) => {
        while (this.entries.length > 0 && !signal.aborted) {
          const entry = this.entries[this.entries.length - 1] as Pending;
          seen.push(entry);
          try {
            await this.run(entry);
          } catch (error) {
            failures.push({ description: entry.description, error });
          }
          finished.add(entry);
        }
      });
    } catch (error) {
      if (!(error instanceof TimeLimitError)) throw error;
      // Whatever was not undone when the limit ran out: the entry in progress, then the rest.
      const left = [...seen, ...[...this.entries].reverse()].filter((e, i, all) => all.indexOf(e) === i);
      const unfinished = left.filter((e) => !finished.has(e));
      throw new CleanupError([
        ...failures,
        ...unfinished.map((e) => ({ description: e.description, error })),
      ]);
    }
    if (failures.length > 0) throw new CleanupError(failures);
  }
}
