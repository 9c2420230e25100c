import { describe, expect, it } from "vitest";
import { CleanupError, CleanupRegistry } from "../../src/lifecycle/cleanup-registry.js";

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
