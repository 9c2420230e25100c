import { describe, expect, it } from "vitest";
import { isError } from "../../src/steady-state/sample.js";
import { loadgenPlan, parseVegetaLine } from "../../src/steady-state/vegeta.js";

describe("parseVegetaLine", () => {
  it("reads the fields of one result, including the serving edge and the request's name", () => {
    const sample = parseVegetaLine(
      JSON.stringify({
        timestamp: "2026-11-28T11:04:22.386416701Z",
        latency: 2_537_305,
        code: 200,
        error: "",
        edge: "edge-2",
        request: "api",
      }),
    );
    expect(sample).toEqual({
      startedAt: Date.parse("2026-11-28T11:04:22.386Z"),
      latencyMs: 2.537305,
      status: 200,
      error: "",
      edge: "edge-2",
      request: "api",
    });
  });

  it("treats a timeout as an error and skips lines that are not results", () => {
    const timeout = parseVegetaLine(
      '{"code":0,"timestamp":"2026-11-28T11:04:22Z","latency":2000000000,"error":"Get: context deadline exceeded","request":""}',
    );
    expect(timeout && isError(timeout)).toBe(true);
    expect(timeout?.request).toBeUndefined();
    expect(timeout?.edge).toBeUndefined();
    expect(parseVegetaLine("not json")).toBeUndefined();
    expect(parseVegetaLine('{"code":"200"}')).toBeUndefined();
  });
});

describe("loadgenPlan", () => {
  const plan = { url: "http://127.0.0.1:1/x?y=1", ratePerSecond: 50, maxDurationMs: 3000, timeoutMs: 2000 };
  it("turns a constant rate into one stage over the whole load, and one unnamed GET", () => {
    const out = loadgenPlan(plan, 7);
    expect(out.stages).toEqual([{ durationMs: 3000, from: 50, to: 50 }]);
    expect(out.requests).toEqual([
      { name: "", method: "GET", url: "http://127.0.0.1:1/x?y=1", headers: {}, body: "", weight: 1 },
    ]);
    expect(out).toMatchObject({ keepAlive: true, http2: true, maxConnections: 0, caFile: "", seed: 7 });
  });
  it("keeps connections alive unless told to open one per request, and trusts the given CA", () => {
    expect(loadgenPlan({ ...plan, connection: "new" }).keepAlive).toBe(false);
    expect(loadgenPlan({ ...plan, caFile: "/state/tls/ca.pem" }).caFile).toBe("/state/tls/ca.pem");
  });
  it("resolves a named mix against the entry point, with its Host header and base64 body", () => {
    const out = loadgenPlan({
      ...plan,
      stages: [{ durationMs: 1000, from: 0, to: 80 }],
      requests: [
        {
          name: "post",
          method: "POST",
          path: "/api/a",
          headers: { "x-a": "1" },
          body: "{}",
          host: "w.test",
          weight: 2,
        },
      ],
      maxConnections: 4,
    });
    expect(out.stages).toEqual([{ durationMs: 1000, from: 0, to: 80 }]);
    expect(out.requests).toEqual([
      {
        name: "post",
        method: "POST",
        url: "http://127.0.0.1:1/api/a",
        headers: { "x-a": ["1"], Host: ["w.test"] },
        body: Buffer.from("{}").toString("base64"),
        weight: 2,
      },
    ]);
    expect(out.maxConnections).toBe(4);
  });
  it("refuses a path that would take the load off the entry point", () => {
    const off = { name: "x", method: "GET", path: "//example.com/", headers: {}, weight: 1 };
    expect(() => loadgenPlan({ ...plan, requests: [off] })).toThrow(
      /refusing to send load to http:\/\/example.com/,
    );
  });
});
