import { describe, expect, it } from "vitest";
import type { JournalEvent } from "../../src/journal/journal.js";
import { foldEvent, type SeriesState, seriesText } from "../../src/run/series.js";

const at = "2026-12-03T00:00:00.000Z";
const state = (): SeriesState => ({
  runId: "r-1",
  experiment: "exp",
  replica: "default",
  faults: new Map(),
  checks: new Map(),
});

describe("a run's series", () => {
  it("follow the journal: phase, faults applied until reverted, each check's latest window", () => {
    const s = state();
    const events: JournalEvent[] = [
      { at, type: "phase", phase: "inject", second: 20 },
      {
        at,
        type: "fault-intent",
        id: "f1",
        fault: "latency",
        target: "edge-1",
        description: "d",
        params: {},
      },
      { at, type: "fault-applied", id: "f1", second: 20 },
      {
        at,
        type: "window",
        phase: "inject",
        start: 20,
        end: 25,
        results: [
          {
            check: 'p99 "fast"',
            metric: "latency.p99",
            comparator: "below",
            threshold: 100,
            value: 152.3,
            ok: false,
          },
          { check: "later", metric: "errors.rate", comparator: "below", threshold: 0.01, applies: false },
        ],
      },
    ];
    for (const e of events) foldEvent(s, e);
    expect(s.phase).toBe("inject");
    expect(s.faults.get("f1")).toEqual({ kind: "latency", target: "edge-1", active: true });
    expect(s.checks.get("later")).toEqual({ ok: undefined, value: undefined });
    expect(foldEvent(s, { at, type: "fault-reverted", id: "f1", second: 30 })).toBe(true);
    expect(s.faults.size).toBe(0);
  });

  it("render Prometheus's text format, each line prefixed with when it expires, labels escaped", async () => {
    const s = state();
    s.phase = "inject";
    s.faults.set("f1", { kind: "latency", target: "edge-1", active: true });
    s.faults.set("f2", { kind: "reset", target: "edge-2", active: false });
    s.checks.set('p99 "fast"', { ok: false, value: 152.3 });
    const text = await seriesText(s, 1_800_000_000);
    const lines = text.trimEnd().split("\n");
    expect(lines.every((l) => l.startsWith("1800000000 "))).toBe(true);
    const samples = lines.map((l) => l.slice(11)).filter((l) => !l.startsWith("#"));
    expect(samples).toEqual([
      'faultline_run_info{run="r-1",experiment="exp",replica="default"} 1',
      'faultline_run_phase{run="r-1",experiment="exp",phase="inject"} 1',
      'faultline_fault_active{run="r-1",experiment="exp",fault="f1",kind="latency",target="edge-1"} 1',
      'faultline_check_ok{run="r-1",experiment="exp",check="p99 \\"fast\\""} 0',
      'faultline_check_value{run="r-1",experiment="exp",check="p99 \\"fast\\""} 152.3',
    ]);
  });
});
