import { describe, expect, it } from "vitest";
import { checkSchema } from "../../src/experiments/check-schema.js";
import { loadExperiment } from "../../src/experiments/loader.js";
import { ToxiproxyApi } from "../../src/injectors/toxiproxy.js";
import { readJournal } from "../../src/journal/journal.js";
import { runExperiment } from "../../src/run/runner.js";
import type { LoadPlan } from "../../src/steady-state/load-driver.js";
import { windowStats } from "../../src/steady-state/metrics.js";
import { sampleProbe } from "../../src/steady-state/probes.js";
import type { Sample } from "../../src/steady-state/sample.js";
import { VegetaDriver } from "../../src/steady-state/vegeta.js";
import { bucketsIn, metricsBuckets, phaseIntervals } from "../../src/verdict/evaluation.js";
import { runShort } from "../support/experiment.js";
import { useReplica } from "../support/replica.js";
import { tempDir } from "../support/temp.js";

// The load model on the real replica: a weighted, named mix with cache-busting requests, and
// a rate that follows stages. Each test prints what it measured.

async function drive(plan: LoadPlan): Promise<Sample[]> {
  const samples: Sample[] = [];
  const load = new VegetaDriver().start(plan, (s) => samples.push(s));
  const summary = await load.finished;
  expect(summary.exitCode, summary.stderr).toBe(0);
  return samples;
}

/** The half-width of a 99.9% normal interval around a binomial share. */
const interval = (n: number, p: number) => 3.29 * Math.sqrt((p * (1 - p)) / n);

describe("the load model on the real replica", () => {
  const replica = useReplica("it-load");

  it("a weighted mix: each request by its name, in its share, with its method, and a share of cache misses", async () => {
    const samples = await drive({
      url: `${replica().endpoints.lb}/`,
      ratePerSecond: 80,
      maxDurationMs: 5000,
      timeoutMs: 2000,
      requests: [
        { name: "page", method: "GET", path: "/", headers: {}, weight: 3 },
        { name: "login", method: "POST", path: "/api/login?from=it", headers: {}, body: "{}", weight: 1 },
      ],
      cacheBust: 0.25,
    });
    const of = (name: string) => samples.filter((s) => s.request === name);
    const page = of("page");
    const login = of("login");
    const pageShare = page.length / samples.length;
    const misses = page.filter((s) => s.cache !== "HIT").length / page.length;
    console.log(
      `[mix] ${samples.length} requests: page ${page.length} (${(pageShare * 100).toFixed(1)}%, weight 75% ± ${(interval(samples.length, 0.75) * 100).toFixed(1)}), login ${login.length}; statuses ${JSON.stringify(count(samples.map((s) => s.status)))}; page cache misses ${(misses * 100).toFixed(1)}% with 25% busted (the rest: max-age 2s expiring on 3 edges)`,
    );
    expect(samples.length).toBeGreaterThan(360);
    expect(page.length + login.length).toBe(samples.length);
    expect(Math.abs(pageShare - 0.75)).toBeLessThan(interval(samples.length, 0.75));
    expect(samples.every((s) => s.status === 200)).toBe(true);
    // An unnamed-to-the-cache miss is at least the busted share, and not far above it.
    expect(misses).toBeGreaterThan(0.25 - interval(page.length, 0.25));
    expect(misses).toBeLessThan(0.4);
    // POST is never cached by the edges: every login reached the origin.
    expect(login.every((s) => s.cache !== "HIT")).toBe(true);
  });

  it("stages: a hold, a ramp up, a hold and a ramp down, each within 5% of its target per window", async () => {
    const stages = [
      { durationMs: 2000, from: 40, to: 40 },
      { durationMs: 4000, from: 40, to: 120 },
      { durationMs: 2000, from: 120, to: 120 },
      { durationMs: 4000, from: 120, to: 40 },
    ];
    const samples = await drive({
      url: `${replica().endpoints.lb}/`,
      ratePerSecond: 120,
      stages,
      maxDurationMs: 12_000,
      timeoutMs: 2000,
    });
    // The pacer sends hit n when the rate's integral reaches n + 1: the first at 1/40 s.
    const t0 = Math.min(...samples.map((s) => s.startedAt)) - 1000 / 40;
    const due = (ms: number) => dueBy(stages, ms);
    const windows = [0, 2, 4, 6, 8, 10].map((start) => {
      const sent = samples.filter(
        (s) => s.startedAt - t0 >= start * 1000 && s.startedAt - t0 < (start + 2) * 1000,
      ).length;
      const wanted = due((start + 2) * 1000) - due(start * 1000);
      return { start, sent, wanted, off: sent / wanted - 1 };
    });
    console.log(
      `[stages] 40/s 2s, to 120/s over 4s, 120/s 2s, to 40/s over 4s; per 2s window sent/wanted: ${windows.map((w) => `${w.start}s ${w.sent}/${w.wanted.toFixed(0)} (${(w.off * 100).toFixed(1)}%)`).join(", ")}`,
    );
    for (const w of windows) expect(Math.abs(w.off), `window at ${w.start}s`).toBeLessThan(0.05);
    expect(samples.filter((s) => s.status !== 200)).toEqual([]);
  });

  it("k6 thresholds give the verdicts of their native checks, window by window, on the same run", async () => {
    const pairs: [string, string][] = [
      ["p(95)<100", "{ metric: latency.p95, below: 100ms }"],
      ["avg<30", "{ metric: latency.avg, below: 30ms }"],
      ["rate<0.01", "{ metric: errors.rate, below: 1% }"],
    ];
    const checks = `[${pairs.map(([k6, native], i) => `{ name: k6-${i}, threshold: "${k6}" }, ${native.replace("{", `{ name: native-${i},`)}`).join(", ")}]`;
    const run = await runShort(replica(), "  - { fault: latency, target: edge-1, latency: 150ms, for: 6s }", {
      rate: "60/s",
      checks,
    });
    const windows = run.events.flatMap((e) => (e.type === "window" ? [e] : []));
    const verdicts = (name: string) =>
      windows
        .map((w) => w.results.find((r) => r.check === name))
        .map((r) => `${r?.ok}:${r?.value?.toFixed(2)}`);
    const lines = pairs.map(
      ([k6], i) => `${k6} ${verdicts(`k6-${i}`).join(" ")} | native ${verdicts(`native-${i}`).join(" ")}`,
    );
    console.log(
      `[k6 thresholds] per window, ok:value (ms or share); latency 150ms on edge-1:\n  ${lines.join("\n  ")}`,
    );
    for (const [i] of pairs.entries()) expect(verdicts(`k6-${i}`)).toEqual(verdicts(`native-${i}`));
    // The latency fault breaks both latency pairs while it lasts, the error pair holds.
    expect(verdicts("k6-0").some((v) => v.startsWith("false"))).toBe(true);
    expect(verdicts("k6-1").some((v) => v.startsWith("false"))).toBe(true);
    expect(verdicts("k6-2").every((v) => v.startsWith("true"))).toBe(true);
  });

  it("HTTP probes send their method, headers and body", async () => {
    const probe = (extra: string) => {
      const check = checkSchema.parse({
        http: {
          endpoint: "prometheus",
          path: "/api/v1/query",
          method: "POST",
          body: '"status":"success"',
          ...JSON.parse(extra),
        },
        atLeast: "100%",
      });
      if (!check.probe) throw new Error("no probe");
      return sampleProbe(check.probe, replica());
    };
    const form = await probe(
      '{"headers":{"content-type":"application/x-www-form-urlencoded"},"send":"query=up"}',
    );
    const bare = await probe("{}");
    console.log(
      `[http probe] POST a PromQL form: ok ${form.ok} in ${form.latencyMs} ms; the same POST without header and body: ok ${bare.ok}, ${bare.error}`,
    );
    expect(form.ok).toBe(true);
    expect(bare).toMatchObject({ ok: false, error: expect.stringContaining("status 400") });
  });

  it("experiments/traffic-mix.yaml: a ramped mix; origin latency and a route brownout reach the API, not the cached pages", async () => {
    const loaded = await loadExperiment("experiments/traffic-mix.yaml");
    const result = await runExperiment({
      loaded,
      replica: replica(),
      runsDir: tempDir("faultline-runs-"),
      seed: 7,
    });
    const events = readJournal(result.journalPath);
    const buckets = metricsBuckets(events);
    const last = (buckets[buckets.length - 1]?.second ?? 0) + 1;
    const phases = Object.fromEntries(phaseIntervals(events, last).map((p) => [p.phase, p]));
    const stats = (phase: string, request?: string) => {
      const span = phases[phase];
      if (!span) throw new Error(`no ${phase} phase`);
      return windowStats(bucketsIn(buckets, span), undefined, request);
    };
    /** The whole seconds while a fault was applied. */
    const faultWindow = (id: string) => {
      const applied = events.find((e) => e.type === "fault-applied" && e.id === id);
      const reverted = events.find((e) => e.type === "fault-reverted" && e.id === id);
      if (applied?.type !== "fault-applied" || reverted?.type !== "fault-reverted")
        throw new Error(`${id} did not run`);
      return { start: Math.ceil(applied.second) + 1, end: Math.floor(reverted.second) };
    };
    const p50 = (phase: string, request: string) =>
      (phase === "f1"
        ? windowStats(bucketsIn(buckets, faultWindow("f1")), undefined, request)
        : stats(phase, request)
      ).latency?.p50 ?? Number.NaN;
    const baseline = stats("baseline");
    const names = ["page", "api", "login"].map((n) => ({ n, count: stats("baseline", n).count }));
    const results = result.evaluation;
    console.log(
      `[traffic-mix] baseline ${baseline.throughput?.toFixed(1)}/s (target 120/s): ${names.map((x) => `${x.n} ${((x.count / baseline.count) * 100).toFixed(1)}%`).join(", ")}; p50 page ${p50("baseline", "page").toFixed(1)} -> ${p50("f1", "page").toFixed(1)} ms, api ${p50("baseline", "api").toFixed(1)} -> ${p50("f1", "api").toFixed(1)} ms under 300 ms origin latency; verdict ${results.verdict}, score ${results.score?.value}`,
    );
    expect(Math.abs((baseline.throughput ?? 0) / 120 - 1)).toBeLessThan(0.05);
    expect(p50("f1", "api") - p50("baseline", "api")).toBeGreaterThan(300 * 0.85);
    expect(p50("f1", "page")).toBeLessThan(50);
    const broken = new Set(
      events.flatMap((e) =>
        e.type === "window" ? e.results.filter((r) => r.ok === false).map((r) => r.check) : [],
      ),
    );
    // Under the brownout: the API's 503s (all of them the route fault's), by window.
    const routeWindow = faultWindow("f2");
    const api = windowStats(bucketsIn(buckets, routeWindow), undefined, "api");
    const page = windowStats(bucketsIn(buckets, routeWindow), undefined, "page");
    const share = (api.statuses["5xx"] ?? 0) / api.count;
    console.log(
      `[traffic-mix] http-route 503 20% of /api/* (seconds ${routeWindow.start}-${routeWindow.end}): api ${(share * 100).toFixed(1)}% 5xx of ${api.count} (20% ± ${(interval(api.count, 0.2) * 100).toFixed(1)}), page ${page.errors}/${page.count} errors`,
    );
    expect(Math.abs(share - 0.2)).toBeLessThan(interval(api.count, 0.2));
    expect(page.errors).toBe(0);
    expect([...broken].sort()).toEqual(["API errors under 5%", "API p99 under 200ms"]);
    expect(await new ToxiproxyApi(replica().endpoints.toxiproxy).faultlineToxics()).toEqual([]);
  });
});

function count(values: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

/** Requests the stages ask for by `ms`: the integral of the rate. */
function dueBy(stages: readonly { durationMs: number; from: number; to: number }[], ms: number): number {
  let at = 0;
  let due = 0;
  for (const s of stages) {
    const into = Math.min(Math.max(ms - at, 0), s.durationMs);
    const rateThere = s.from + ((s.to - s.from) * into) / s.durationMs;
    due += ((s.from + rateThere) / 2) * (into / 1000);
    at += s.durationMs;
  }
  return due;
}
