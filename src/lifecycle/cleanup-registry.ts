/**
 * Everything Faultline applies is registered here with the action that undoes it. Draining
 * runs the undo actions last-in first-out; a failing action does not stop the others, and
 * the failures are reported together (the first one as the cause). Drained in `finally`,
 * on SIGINT/SIGTERM, and by `faultline recover` for what a crashed run left behind.
 */
export interface CleanupEntry {
  readonly description: string;
  /** Runs this entry's undo now and removes it from the registry. Idempotent. */
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

export class CleanupRegistry {
  private readonly entries: Pending[] = [];
  private draining: Promise<void> | undefined;

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
    entry.done ??= (async () => {
      try {
        await entry.undo();
      } finally {
        const index = this.entries.indexOf(entry);
        if (index >= 0) this.entries.splice(index, 1);
      }
    })();
    return entry.done;
  }

  /** Undoes everything still registered, newest first. Concurrent calls share one drain. */
  drain(): Promise<void> {
    this.draining ??= (async () => {
      const failures: { description: string; error: unknown }[] = [];
      while (this.entries.length > 0) {
        const entry = this.entries[this.entries.length - 1] as Pending;
        try {
          await this.run(entry);
        } catch (error) {
          failures.push({ description: entry.description, error });
        }
      }
      if (failures.length > 0) throw new CleanupError(failures);
    })().finally(() => {
      this.draining = undefined;
    });
    return this.draining;
  }
}
