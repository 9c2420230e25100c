import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../src/errors.js";
import { type Clock, WaitTimeoutError, waitUntil } from "../../src/lifecycle/wait.js";

function fakeClock(): Clock & { slept: number } {
  let now = 0;
  const clock = {
    slept: 0,
    now: () => now,
    sleep: async (ms: number) => {
      now += ms;
      clock.slept += ms;
    },
  };
  return clock;
}

describe("waitUntil", () => {
  it("returns the probe's value once done", async () => {
    const clock = fakeClock();
    let calls = 0;
    const value = await waitUntil(
      async () => (++calls >= 3 ? { done: true, value: "ready" } : { done: false, reason: `try ${calls}` }),
      { description: "x", timeoutMs: 10_000, intervalMs: 100, clock },
    );
    expect(value).toBe("ready");
    expect(clock.slept).toBe(200);
  });

  it("times out with the last reason, treating untyped errors as not-yet", async () => {
    const clock = fakeClock();
    const error = await waitUntil(
      async () => {
        throw new Error("connection refused");
      },
      { description: "the API", timeoutMs: 1000, intervalMs: 250, clock },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as Error).message).toBe(
      "timed out after 1s waiting for the API (last: connection refused)",
    );
  });

  it("stops at once on a typed error", async () => {
    const clock = fakeClock();
    await expect(
      waitUntil(
        async () => {
          throw new InvalidInputError("bad");
        },
        { description: "x", timeoutMs: 10_000, clock },
      ),
    ).rejects.toThrow(InvalidInputError);
    expect(clock.slept).toBe(0);
  });
});
