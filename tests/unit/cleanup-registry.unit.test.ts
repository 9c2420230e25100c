import { describe, expect, it } from "vitest";
import { CleanupError, CleanupRegistry } from "../../src/lifecycle/cleanup-registry.js";
import { currentLimit, TimeLimitError } from "../../src/lifecycle/time-limit.js";

describe("CleanupRegistry", () => {
  it("undoes newest first", async () => {
    const registry = new CleanupRegistry();
    const order: string[] = [];
    for (const name of ["a", "b", "c"]) registry.register(name, async () => void order.push(name));
    await registry.drain();
    expect(order).toEqual(["c", "b", "a"]);
    expect(registry.size).toBe(0);
  });

  it("keeps undoing after a failure and reports every failure, the first as the cause", async () => {
    const registry = new CleanupRegistry();
    const done: string[] = [];
    registry.register("a", async () => void done.push("a"));
    registry.register("b", async () => {
      throw new Error("b broke");
    });
    registry.register("c", async () => {
      throw new Error("c broke");
    });
    const error = await registry.drain().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CleanupError);
    expect((error as CleanupError).failures.map((f) => f.description)).toEqual(["c", "b"]);
    expect(((error as CleanupError).cause as Error).message).toBe("c broke");
    expect(done).toEqual(["a"]);
  });

  it("runs a released entry once, even if drained later or concurrently", async () => {
    const registry = new CleanupRegistry();
    let runs = 0;
    const entry = registry.register("x", async () => void runs++);
    await Promise.all([entry.release(), entry.release(), registry.drain()]);
    await registry.drain();
    expect(runs).toBe(1);
  });

  it("tries a failed undo again on the next release; once it succeeded, never again", async () => {
    const registry = new CleanupRegistry();
    let runs = 0;
    const entry = registry.register("x", async () => {
      runs++;
      if (runs === 1) throw new Error("engine busy");
    });
    await expect(entry.release()).rejects.toThrow("engine busy");
    expect(registry.size).toBe(0);
    await entry.release();
    await entry.release();
    expect(runs).toBe(2);
  });

  it("shares one drain between concurrent callers (finally and a signal handler)", async () => {
    const registry = new CleanupRegistry();
    let runs = 0;
    registry.register("x", async () => {
      await new Promise((r) => setTimeout(r, 5));
      runs++;
    });
    await Promise.all([registry.drain(), registry.drain()]);
    expect(runs).toBe(1);
  });
});

describe("CleanupRegistry's time limit", () => {
  it("reports what it could not undo when the drain runs out of time, instead of hanging", async () => {
    const registry = new CleanupRegistry({ limitMs: 200 });
    const done: string[] = [];
    registry.register("a", async () => void done.push("a"));
    registry.register("hangs", () => new Promise<void>(() => {}));
    registry.register("c", async () => void done.push("c"));
    const started = Date.now();
    const error = await registry.drain().catch((e: unknown) => e);
    const tookMs = Date.now() - started;
    console.log(`drain with a hung undo ended after ${tookMs} ms (limit 200 ms)`);
    expect(tookMs).toBeLessThan(1000);
    expect(error).toBeInstanceOf(CleanupError);
    const failures = (error as CleanupError).failures;
    expect(failures.map((f) => f.description)).toEqual(["hangs", "a"]);
    expect(failures[0]?.error).toBeInstanceOf(TimeLimitError);
    expect((error as CleanupError).message).toMatch(
      /undoing what was applied did not finish within its time limit of 200ms/,
    );
    expect(done).toEqual(["c"]);
    // What was not undone stays registered: a later drain (or the ledger) still knows it.
    expect(registry.size).toBe(2);
  });

  it("aborts the engine calls of the undo in progress when the limit runs out", async () => {
    const registry = new CleanupRegistry();
    let seen: AbortSignal | undefined;
    registry.register("waits on the engine", async () => {
      seen = currentLimit();
      await new Promise<void>((_, reject) => seen?.addEventListener("abort", () => reject(seen?.reason)));
    });
    const error = await registry.drain({ limitMs: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CleanupError);
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBeInstanceOf(TimeLimitError);
  });

  it("keeps the failures of the undos that finished before the limit", async () => {
    const registry = new CleanupRegistry({ limitMs: 150 });
    registry.register("hangs", () => new Promise<void>(() => {}));
    registry.register("broke", async () => {
      throw new Error("broke");
    });
    const error = (await registry.drain().catch((e: unknown) => e)) as CleanupError;
    expect(error.failures.map((f) => [f.description, (f.error as Error).message.slice(0, 20)])).toEqual([
      ["broke", "broke"],
      ["hangs", "undoing what was app"],
    ]);
  });
});
