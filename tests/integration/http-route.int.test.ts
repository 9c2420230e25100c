import { describe, expect, it } from "vitest";
import { findLeftovers, recoverReplica } from "../../src/recovery/recover.js";
import type { PlannedRequest } from "../../src/steady-state/load-driver.js";
import type { Sample } from "../../src/steady-state/sample.js";
import { isError } from "../../src/steady-state/sample.js";
import { VegetaDriver } from "../../src/steady-state/vegeta.js";
import { applyFault } from "../support/fault-context.js";
import { useReplica } from "../support/replica.js";

// The http-route fault on the real replica: HAProxy's runtime map and Lua action, under a
// mix of routes driven by the load driver. Each test prints what it measured.

const get = (name: string, path: string, headers: Record<string, string> = {}): PlannedRequest => ({
  name,
  method: "GET",
  path,
  headers,
  weight: 1,
});

/** Half-width of a 99.9% normal interval around a binomial share. */
const interval = (n: number, p: number) => 3.29 * Math.sqrt((p * (1 - p)) / n);

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

describe("http-route on the real replica", () => {
  const replica = useReplica("it-route");

  async function drive(
    requests: PlannedRequest[],
    seconds: number,
    rate = 100,
  ): Promise<Map<string, Sample[]>> {
    const byName = new Map<string, Sample[]>();
    const load = new VegetaDriver().start(
      {
        url: `${replica().endpoints.lb}/`,
        ratePerSecond: rate,
        maxDurationMs: seconds * 1000,
        timeoutMs: 3000,
        requests,
      },
      (s) => byName.set(s.request ?? "", [...(byName.get(s.request ?? "") ?? []), s]),
    );
    await load.finished;
    return byName;
  }

  it("503 for 20% of /api/*: about 20% errors on that route, inside the binomial interval, none on the other", async () => {
    const { applied, applyMs } = await applyFault(replica(), "lb", {
      fault: "http-route",
      match: { path: "/api/*" },
      share: "20%",
      status: 503,
    });
    let byName: Map<string, Sample[]>;
    try {
      byName = await drive([get("page", "/"), get("api", "/api/items")], 10);
    } finally {
      await applied.revert();
    }
    const api = byName.get("api") ?? [];
    const page = byName.get("page") ?? [];
    const share = api.filter((s) => s.status === 503).length / api.length;
    const half = interval(api.length, 0.2);
    console.log(
      `[http-route] applied in ${applyMs.toFixed(0)} ms; /api/*: ${api.filter((s) => s.status === 503).length}/${api.length} answered 503 (${(share * 100).toFixed(1)}%, 20% ± ${(half * 100).toFixed(1)}); /: ${page.filter(isError).length}/${page.length} errors`,
    );
    expect(api.length).toBeGreaterThan(400);
    expect(Math.abs(share - 0.2)).toBeLessThan(half);
    expect(api.every((s) => s.status === 200 || s.status === 503)).toBe(true);
    expect(page.filter(isError)).toEqual([]);
    expect(await findLeftovers(replica())).toEqual([]);
    const after = await drive([get("api", "/api/items")], 2);
    expect((after.get("api") ?? []).filter(isError)).toEqual([]);
  });

  it("delay ± jitter on one method and path, abort on another, a replaced body for a header; others untouched", async () => {
    const login: PlannedRequest = {
      name: "login",
      method: "POST",
      path: "/api/login",
      headers: {},
      body: "{}",
      weight: 1,
    };
    let servedBody = "";
    const run = async (fault: Record<string, unknown>, requests: PlannedRequest[]) => {
      const { applied } = await applyFault(replica(), "lb", { fault: "http-route", ...fault });
      try {
        if (fault.body !== undefined)
          servedBody = await fetch(`${replica().endpoints.lb}/`, { headers: { "x-beta": "yes" } }).then((r) =>
            r.text(),
          );
        return await drive(requests, 3, 60);
      } finally {
        await applied.revert();
      }
    };
    const delayed = await run(
      { match: { path: "/api/login", method: "POST" }, delay: "300ms", jitter: "50ms" },
      [login, get("items", "/api/items")],
    );
    const latency = (name: string, samples = delayed) => (samples.get(name) ?? []).map((s) => s.latencyMs);
    const loginMs = latency("login");
    const aborted = await run({ match: { path: "/api/gone*" }, abort: true }, [
      get("gone", "/api/gone"),
      get("page", "/"),
    ]);
    const gone = aborted.get("gone") ?? [];
    const replaced = await run(
      { match: { path: "/", header: { name: "X-Beta", value: "yes*" } }, body: "maintenance\n", status: 503 },
      [get("beta", "/", { "x-beta": "yes-please" }), get("plain", "/?v=1")],
    );
    const probe = await fetch(`${replica().endpoints.lb}/`, { headers: { "x-beta": "no" } });
    console.log(
      `[http-route] delay 300ms ± 50ms on POST /api/login: p50 ${median(loginMs).toFixed(1)} ms, min ${Math.min(...loginMs).toFixed(1)}, max ${Math.max(...loginMs).toFixed(1)} (n=${loginMs.length}); GET /api/items p50 ${median(latency("items")).toFixed(1)} ms. abort on /api/gone*: ${gone.filter((s) => s.status === 0).length}/${gone.length} without an answer (${gone[0]?.error}); / ${aborted.get("page")?.filter(isError).length} errors. body for X-Beta yes*: ${replaced.get("beta")?.filter((s) => s.status === 503).length}/${replaced.get("beta")?.length} answered 503, without it ${replaced.get("plain")?.filter(isError).length} errors; X-Beta: no got ${probe.status}`,
    );
    expect(Math.abs(median(loginMs) - 300)).toBeLessThan(30);
    expect(Math.min(...loginMs)).toBeGreaterThanOrEqual(245);
    expect(Math.max(...loginMs)).toBeLessThan(400);
    expect(median(latency("items"))).toBeLessThan(30);
    expect(gone.length).toBeGreaterThan(50);
    expect(gone.every((s) => s.status === 0 && s.error !== "")).toBe(true);
    expect(aborted.get("page")?.filter(isError)).toEqual([]);
    expect(replaced.get("beta")?.every((s) => s.status === 503)).toBe(true);
    expect(replaced.get("plain")?.filter(isError)).toEqual([]);
    expect(probe.status).toBe(200);
    expect(servedBody).toBe("maintenance\n");
    const after = await fetch(`${replica().endpoints.lb}/`, { headers: { "x-beta": "yes" } });
    expect(after.status).toBe(200);
    expect(await findLeftovers(replica())).toEqual([]);
  });

  it("on an edge: that edge's share of the route fails, the others serve it; on the origin: every edge passes it on; a crash's rule is swept", async () => {
    const share503 = (samples: Sample[]) => samples.filter((s) => s.status === 503).length / samples.length;
    const underFault = async (service: string, fault: Record<string, unknown>) => {
      const applied = await applyFault(replica(), service, { fault: "http-route", ...fault });
      try {
        return {
          applyMs: applied.applyMs,
          byName: await drive([get("page", "/"), get("api", "/api/items")], 6),
        };
      } finally {
        await applied.applied.revert();
      }
    };
    const onEdge = await underFault("edge-1", { match: { path: "/api/*" }, status: 503 });
    const edge = onEdge.byName;
    const onOrigin = await underFault("origin", {
      match: { path: "/api/*", method: "GET" },
      share: "50%",
      status: 503,
    });
    const origin = onOrigin.byName;
    // A rule a crashed run left (no revert): recover finds it and sweeps it.
    await applyFault(replica(), "edge-2", { fault: "http-route", match: { path: "*" }, abort: true });
    const left = await findLeftovers(replica());
    const swept = await recoverReplica(replica());
    const edgeApi = edge.get("api") ?? [];
    const originApi = origin.get("api") ?? [];
    const half = interval(originApi.length, 0.5);
    console.log(
      `[http-route] 503 on edge-1 for /api/*: applied in ${onEdge.applyMs.toFixed(0)} ms; ${(share503(edgeApi) * 100).toFixed(1)}% of ${edgeApi.length} API requests (edge-1 serves a third), / ${edge.get("page")?.filter(isError).length} errors. 503 for 50% of GET /api/* on the origin: applied in ${onOrigin.applyMs.toFixed(0)} ms; ${(share503(originApi) * 100).toFixed(1)}% of ${originApi.length} through the edges (50% ± ${(half * 100).toFixed(1)}), / ${origin.get("page")?.filter(isError).length} errors. A crash's rule on edge-2: found "${left.join("; ")}", swept: ${swept.recovered.map((r) => `${r.target} ${r.what}`).join("; ")}`,
    );
    expect(Math.abs(share503(edgeApi) - 1 / 3)).toBeLessThan(interval(edgeApi.length, 1 / 3));
    expect(edge.get("page")?.filter(isError)).toEqual([]);
    expect(Math.abs(share503(originApi) - 0.5)).toBeLessThan(half);
    expect(origin.get("page")?.filter(isError)).toEqual([]);
    expect(left).toContain("an HTTP route fault held by edge-2");
    expect(swept.errors).toEqual([]);
    expect(await findLeftovers(replica())).toEqual([]);
    const after = await drive([get("api", "/api/items"), get("page", "/")], 2);
    expect([...after.values()].flat().filter(isError)).toEqual([]);
  });
});
