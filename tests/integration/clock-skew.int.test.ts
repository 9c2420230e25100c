import { describe, expect, it } from "vitest";
import { faultSchema } from "../../src/experiments/schema.js";
import type { AppliedFault } from "../../src/faults/fault-kind.js";
import { kindOf } from "../../src/faults/registry.js";
import { findLeftovers } from "../../src/recovery/recover.js";
import { execIn } from "../../src/replica/exec.js";
import { CLOCK_SKEW_FILE, containerName } from "../../src/replica/topology.js";
import { useReplica } from "../support/replica.js";

// The clock-skew fault on one edge of the built-in PoP, seen through real requests: the Date
// each edge sends, and how often each edge's cache goes to the origin (X-Cache MISS or
// EXPIRED) for `/`, which the origin serves with `Cache-Control: public, max-age=2`. The load
// balancer spreads the requests round-robin, and X-Edge says which edge answered, so the
// skewed edge is measured next to the others under the same load.

const NAME = "it-skew";
const replica = useReplica(NAME, 3);
const RATE = 30;
/** A page lives 2 s (nginx counts whole seconds: up to 3 s): an edge refreshes it two or three times in 8 s, at least once. */
const WINDOW_MS = 8000;

interface EdgeFigures {
  requests: number;
  /** Answers the cache took from the origin (MISS, EXPIRED). */
  fetches: number;
  hits: number;
  /** Median of the edge's Date minus the real time, in seconds. */
  dateOffset: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function sample(): Promise<{ edge: string; cache: string; offset: number }> {
  const response = await fetch(`${replica().endpoints.lb}/`);
  await response.arrayBuffer();
  const date = Date.parse(response.headers.get("date") ?? "");
  return {
    edge: response.headers.get("x-edge") ?? "?",
    cache: response.headers.get("x-cache") ?? "?",
    // Date has whole seconds: within a second of the real time counts as true.
    offset: Math.abs(date - Date.now()) < 1500 ? 0 : Math.round((date - Date.now()) / 1000),
  };
}

/** RATE requests a second through the load balancer for `ms`: figures per edge. */
async function measure(ms: number): Promise<Record<string, EdgeFigures>> {
  const per = new Map<string, { cache: string[]; offsets: number[] }>();
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const started = Date.now();
    const s = await sample();
    const entry = per.get(s.edge) ?? { cache: [], offsets: [] };
    entry.cache.push(s.cache);
    entry.offsets.push(s.offset);
    per.set(s.edge, entry);
    await sleep(Math.max(0, 1000 / RATE - (Date.now() - started)));
  }
  const figures: Record<string, EdgeFigures> = {};
  for (const [edge, { cache, offsets }] of [...per].sort(([a], [b]) => a.localeCompare(b))) {
    const sorted = [...offsets].sort((a, b) => a - b);
    figures[edge] = {
      requests: cache.length,
      fetches: cache.filter((c) => c === "MISS" || c === "EXPIRED").length,
      hits: cache.filter((c) => c === "HIT").length,
      dateOffset: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN,
    };
  }
  return figures;
}

/** How long until edge-1's Date is `expected` seconds off the real time (within 2 s). */
async function untilOffset(expected: number, timeoutMs = 5000): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    const s = await sample();
    if (s.edge === "edge-1" && Math.abs(s.offset - expected) <= 2) return performance.now() - started;
    await sleep(20);
  }
  throw new Error(`edge-1's Date was not ${expected}s off within ${timeoutMs} ms`);
}

/** Date has whole seconds: the edge's clock is within a second of `seconds` off. */
function expectOffset(figures: EdgeFigures | undefined, seconds: number): void {
  expect(Math.abs((figures?.dateOffset ?? Number.NaN) - seconds)).toBeLessThanOrEqual(1);
}

const show = (label: string, figures: Record<string, EdgeFigures>) =>
  console.log(
    `[clock-skew] ${label}: ${Object.entries(figures)
      .map(
        ([edge, f]) =>
          `${edge} ${f.fetches} origin fetches / ${f.requests} requests (${f.hits} HIT), Date ${f.dateOffset >= 0 ? "+" : ""}${f.dateOffset}s`,
      )
      .join("; ")}`,
  );

async function skew(text: string): Promise<{ applied: AppliedFault; applyMs: number; seenMs: number }> {
  const fault = faultSchema.parse({ fault: "clock-skew", target: "edge-1", skew: text, for: "60s" });
  const context = {
    replica: replica(),
    runId: `it-skew-${Date.now()}`,
    faultId: "f1",
    service: "edge-1",
    revertBy: Date.now() + 60_000,
  };
  const started = performance.now();
  const applied = await kindOf(fault).apply(fault, context);
  const applyMs = performance.now() - started;
  return {
    applied,
    applyMs,
    seenMs: await untilOffset(fault.fault === "clock-skew" ? fault.skew / 1000 : 0),
  };
}

async function revert(applied: AppliedFault): Promise<{ revertMs: number; seenMs: number }> {
  const started = performance.now();
  await applied.revert();
  const revertMs = performance.now() - started;
  return { revertMs, seenMs: await untilOffset(0) };
}

describe("clock-skew on edge-1", () => {
  it("a clock behind keeps the edge's cached page fresh (no origin fetch), and the revert ends it", async () => {
    await measure(1000); // every edge has the page cached
    const before = await measure(WINDOW_MS);
    show("no skew", before);
    for (const f of Object.values(before)) expect(f.dateOffset).toBe(0);

    const { applied, applyMs, seenMs } = await skew("-1h");
    const under = await measure(WINDOW_MS);
    show(
      `-1h on edge-1 (applied in ${applyMs.toFixed(0)} ms, seen in its Date after ${seenMs.toFixed(0)} ms more)`,
      under,
    );
    expect(await findLeftovers(replica())).toEqual(["a skewed clock in edge-1"]);
    const after = await revert(applied);
    const restored = await measure(WINDOW_MS);
    show(
      `reverted in ${after.revertMs.toFixed(0)} ms, Date true after ${after.seenMs.toFixed(0)} ms more`,
      restored,
    );

    // Stored at the real time with 2 s to live, the page looks an hour younger to the skewed
    // clock: edge-1 serves it without asking the origin, while the others refresh it every 2 to 3 s.
    expectOffset(under["edge-1"], -3600);
    expect(under["edge-1"]?.fetches).toBe(0);
    expect(under["edge-2"]?.fetches).toBeGreaterThanOrEqual(1);
    expect(restored["edge-1"]?.dateOffset).toBe(0);
    expect(restored["edge-1"]?.fetches).toBeGreaterThanOrEqual(1);
    expect(await findLeftovers(replica())).toEqual([]);
  });

  it("a clock ahead dates the edge's answers 2 days on, and its revert purges what it cached ahead", async () => {
    const edge1 = containerName(replica().topology, "edge-1");
    // First without the purge: the offset file removed by hand, as a clock put right would be.
    const first = await skew("2d");
    await measure(2000);
    await execIn(edge1, ["rm", "-f", CLOCK_SKEW_FILE]);
    await untilOffset(0);
    const stuck = await measure(WINDOW_MS);
    show("+2d, then only the offset file removed (no purge)", stuck);
    await first.applied.revert();
    await execIn(edge1, ["sh", "-c", "find /var/cache/faultline-edge -type f -delete"]);

    const { applied, applyMs, seenMs } = await skew("2d");
    const under = await measure(WINDOW_MS);
    show(
      `+2d on edge-1 (applied in ${applyMs.toFixed(0)} ms, seen in its Date after ${seenMs.toFixed(0)} ms more)`,
      under,
    );
    const after = await revert(applied);
    const restored = await measure(WINDOW_MS);
    show(
      `reverted (with the purge) in ${after.revertMs.toFixed(0)} ms, Date true after ${after.seenMs.toFixed(0)} ms more`,
      restored,
    );

    // Entries stored under the clock ahead expire 2 days late once it is true again: edge-1
    // would serve its page without asking the origin; the revert's purge prevents that. A
    // max-age is relative, so under a steady skew the cache refreshes as often as before.
    expect(stuck["edge-1"]?.fetches).toBe(0);
    expect(stuck["edge-2"]?.fetches).toBeGreaterThanOrEqual(1);
    expectOffset(under["edge-1"], 172_800);
    expect(under["edge-1"]?.fetches).toBeGreaterThanOrEqual(1);
    expect(restored["edge-1"]?.dateOffset).toBe(0);
    expect(restored["edge-1"]?.fetches).toBeGreaterThanOrEqual(1);
    expect(await findLeftovers(replica())).toEqual([]);
  });

  it("is refused, located, on a target without libfaketime", () => {
    const fault = faultSchema.parse({ fault: "clock-skew", target: "origin", skew: "2d", for: "10s" });
    expect(() => kindOf(fault).check(fault, "origin", replica().topology)).toThrow(
      /a clock skew on a target whose clock Faultline cannot skew: origin \(origin\) runs without libfaketime/,
    );
  });
});
