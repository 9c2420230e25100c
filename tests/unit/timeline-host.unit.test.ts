import { describe, expect, it } from "vitest";
import { statusLines } from "../../src/cli/game-day-view.js";
import type { PlannedAction } from "../../src/experiments/plan.js";
import type { RunContext } from "../../src/run/run-context.js";
import type { GameDayStatus } from "../../src/scale/game-day.js";
import { APPLY_LATE_MS, REVERT_GRACE_MS, TimelineHost } from "../../src/scale/timeline-host.js";

// The worker's side of a workflow-driven timeline, on a fake run clock: the timeline is offered
// to whoever waits for it, applies land in the run's fault session, a revert the workflow does
// not send in time is done by the run itself, and a stopped run takes no more faults.

function fakeRun(runId = "run-1") {
  let now = 0;
  const log: string[] = [];
  const loop = {
    t0: 1_000_000,
    elapsedMs: () => now,
    second: () => Math.floor(now / 1000),
    until: async (target: number) => {
      await Promise.resolve();
      now = Math.max(now, target);
    },
  };
  const session = {
    apply: async (action: PlannedAction, revertBy: number) => {
      log.push(`apply ${action.id} revertBy ${revertBy - loop.t0}`);
      return {
        description: action.description,
        release: async () => {
          log.push(`revert ${action.id} at ${now}`);
        },
      };
    },
  };
  // Only what TimelineHost touches of a run: its id, its clock and its fault session.
  const run = { runId, loop, session } as unknown as RunContext;
  return { run, log, setNow: (ms: number) => (now = ms) };
}

const action = (id: string, atMs: number, untilMs: number) =>
  ({ id, atMs, untilMs, description: `fault ${id}` }) as unknown as PlannedAction;

describe("TimelineHost", () => {
  it("offers the timeline as wall-clock steps, reverts first at the same moment", async () => {
    const host = new TimelineHost();
    const { run } = fakeRun();
    const waiting = host.next("gd", new AbortController().signal);
    const played = host.timelineFor("gd")(run, [action("f1", 0, 2000), action("f2", 2000, 4000)], 1000);
    const offered = await waiting;
    expect(offered?.runId).toBe("run-1");
    expect(offered?.steps.map((s) => `${s.kind} ${s.actionId}`)).toEqual([
      "apply f1",
      "revert f1",
      "apply f2",
      "revert f2",
    ]);
    const [first, second] = offered?.steps ?? [];
    expect((second?.atEpochMs ?? 0) - (first?.atEpochMs ?? 0)).toBe(2000);
    await host.apply("gd", "run-1", "f1");
    await host.apply("gd", "run-1", "f2");
    await played;
  });

  it("a fault the workflow never applies fails the run (no pass without the fault); a late apply is refused", async () => {
    const host = new TimelineHost();
    const { run, log } = fakeRun();
    const played = host.timelineFor("gd")(run, [action("f1", 0, 2000), action("f2", 20_000, 30_000)], 0);
    await host.next("gd", new AbortController().signal);
    await host.apply("gd", "run-1", "f1");
    await expect(played).rejects.toThrow(/the workflow did not apply f2 \(fault f2\)/);
    expect(log.some((l) => l.includes("apply f2"))).toBe(false);
    expect(run.loop.elapsedMs()).toBeLessThan(20_000 + APPLY_LATE_MS + 200);

    const late = new TimelineHost();
    const other = fakeRun();
    const closing = late.timelineFor("gd")(other.run, [action("f1", 0, 1000), action("f2", 0, 60_000)], 0);
    await late.next("gd", new AbortController().signal);
    await late.apply("gd", "run-1", "f2");
    other.setNow(1500);
    expect(await late.apply("gd", "run-1", "f1")).toEqual({
      applied: false,
      reason: "fault f1's time is over",
    });
    await expect(closing).rejects.toThrow(/did not apply f1/);
  });

  it("applies in the run's session; a revert not sent by the end (plus grace) is done by the run", async () => {
    const host = new TimelineHost();
    const { run, log } = fakeRun();
    const played = host.timelineFor("gd")(run, [action("f1", 0, 2000)], 1000);
    const offered = await host.next("gd", new AbortController().signal);
    expect(await host.apply("gd", offered?.runId ?? "", "f1")).toMatchObject({ applied: true });
    await played;
    expect(log).toEqual(["apply f1 revertBy 3000", `revert f1 at ${3000 + REVERT_GRACE_MS}`]);
    expect(await host.apply("gd", "run-1", "f1")).toMatchObject({ applied: false });
  });

  it("a revert from the workflow releases the fault once; another run's id changes nothing", async () => {
    const host = new TimelineHost();
    const { run, log } = fakeRun();
    const played = host.timelineFor("gd")(run, [action("f1", 0, 60_000)], 0);
    await host.next("gd", new AbortController().signal);
    await host.apply("gd", "run-1", "f1");
    await host.revert("gd", "other-run", "f1");
    await host.revert("gd", "run-1", "f1");
    await host.revert("gd", "run-1", "f1");
    await played;
    expect(log.filter((l) => l.startsWith("revert"))).toHaveLength(1);
  });

  it("a failed apply stops the run's timeline with that error", async () => {
    const host = new TimelineHost();
    const { run } = fakeRun();
    run.session.apply = () => Promise.reject(new Error("engine gone"));
    const played = host.timelineFor("gd")(run, [action("f1", 0, 60_000)], 0);
    await host.next("gd", new AbortController().signal);
    await expect(host.apply("gd", "run-1", "f1")).rejects.toThrow("engine gone");
    await expect(played).rejects.toThrow("engine gone");
  });

  it("a waiter hears that the game day is over", async () => {
    const host = new TimelineHost();
    const waiting = host.next("gd", new AbortController().signal);
    host.end("gd");
    expect(await waiting).toBeUndefined();
    host.end("later");
    expect(await host.next("later", new AbortController().signal)).toBeUndefined();
  });

  it("a revert the workflow does not send is done at that fault's own time plus the grace", async () => {
    const host = new TimelineHost();
    const { run, log } = fakeRun();
    const played = host.timelineFor("gd")(run, [action("a", 0, 2000), action("b", 10_000, 12_000)], 0);
    await host.next("gd", new AbortController().signal);
    await host.apply("gd", "run-1", "a");
    await host.apply("gd", "run-1", "b");
    await played;
    const reverted = log.find((l) => l.startsWith("revert a")) ?? "";
    expect(Number(reverted.split(" at ")[1])).toBeLessThan(2000 + REVERT_GRACE_MS + 200);
  });

  it("an apply in progress when the timeline closes is awaited and reverted, not left on", async () => {
    const host = new TimelineHost();
    const { run, log, setNow } = fakeRun();
    let finish: () => void = () => {};
    const slow = new Promise<void>((resolve) => (finish = resolve));
    const apply = run.session.apply.bind(run.session);
    run.session.apply = async (a, by) => {
      await slow;
      return apply(a, by);
    };
    const played = host.timelineFor("gd")(run, [action("f1", 0, 1000)], 0);
    await host.next("gd", new AbortController().signal);
    const applying = host.apply("gd", "run-1", "f1");
    setNow(5000);
    await new Promise((resolve) => setTimeout(resolve, 10));
    finish();
    await applying;
    await played;
    expect(log.map((l) => l.split(" at ")[0])).toEqual(["apply f1 revertBy 1000", "revert f1"]);
  });
});

describe("statusLines", () => {
  const status = (
    faults: GameDayStatus["faults"],
    state: GameDayStatus["state"] = "running",
  ): GameDayStatus => ({
    id: "gd",
    state,
    engine: "local",
    runs: ["run-1"],
    faults,
    halted: false,
  });
  const fault = (state: GameDayStatus["faults"][number]["state"]) => ({
    runId: "run-1",
    actionId: "f1",
    description: "latency 200ms on link edge-1",
    state,
  });

  it("prints what changed: the run's inject phase, each fault's apply and revert, a lost worker", () => {
    const pending = status([fault("pending")]);
    const applied = status([fault("applied")]);
    expect(statusLines(undefined, pending)).toEqual(["  run run-1: inject phase"]);
    expect(statusLines(pending, applied)).toEqual(["  applied  f1: latency 200ms on link edge-1"]);
    expect(statusLines(applied, applied)).toEqual([]);
    expect(statusLines(applied, status([fault("applied")], "worker-lost"))).toEqual([
      "  the worker of engine local was lost",
    ]);
  });
});
