import { describe, expect, it } from "vitest";
import { isError } from "../../src/steady-state/sample.js";
import { attackArgs, parseVegetaLine } from "../../src/steady-state/vegeta.js";

describe("parseVegetaLine", () => {
  it("reads the fields of one JSON result, including the serving edge", () => {
    const sample = parseVegetaLine(
      JSON.stringify({
        attack: "",
        seq: 0,
        code: 200,
        timestamp: "2026-11-28T11:04:22.386416701Z",
        latency: 2_537_305,
        bytes_out: 0,
        bytes_in: 0,
        error: "",
        body: null,
        method: "GET",
        url: "http://127.0.0.1:1/",
        headers: { "X-Edge": ["edge-2"] },
      }),
    );
    expect(sample).toEqual({
      startedAt: Date.parse("2026-11-28T11:04:22.386Z"),
      latencyMs: 2.537305,
      status: 200,
      error: "",
      edge: "edge-2",
    });
  });

  it("treats a timeout as an error and skips lines that are not results", () => {
    const timeout = parseVegetaLine(
      '{"code":0,"timestamp":"2026-11-28T11:04:22Z","latency":2000000000,"error":"Get: context deadline exceeded","headers":null}',
    );
    expect(timeout && isError(timeout)).toBe(true);
    expect(parseVegetaLine("not json")).toBeUndefined();
    expect(parseVegetaLine('{"code":"200"}')).toBeUndefined();
  });
});

describe("attackArgs", () => {
  const plan = { url: "http://127.0.0.1:1/", ratePerSecond: 50, maxDurationMs: 3000, timeoutMs: 2000 };
  it("keeps connections alive unless told to open one per request", () => {
    expect(attackArgs(plan)).toContain("-keepalive=true");
    expect(attackArgs({ ...plan, connection: "new" })).toContain("-keepalive=false");
  });
  it("trusts the given CA for https targets", () => {
    expect(attackArgs({ ...plan, caFile: "/state/tls/ca.pem" })).toContain("-root-certs=/state/tls/ca.pem");
    expect(attackArgs(plan).some((a) => a.startsWith("-root-certs"))).toBe(false);
  });
});
