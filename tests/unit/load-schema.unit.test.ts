import { describe, expect, it } from "vitest";
import { checkSchema } from "../../src/experiments/check-schema.js";
import { describeLoad, loadSchema } from "../../src/experiments/load-schema.js";
import { measureConditions } from "../../src/steady-state/checks.js";
import { BucketAggregator, windowStats } from "../../src/steady-state/metrics.js";

const parse = (input: unknown) => loadSchema.parse(input);

describe("load: rate, stages and the mix", () => {
  it("a constant rate on one path is one unnamed GET, no stages", () => {
    const load = parse({ rate: "50/s", path: "/a" });
    expect(load).toMatchObject({ rate: 50, stages: [], mix: false, cacheBust: 0, connection: "keep-alive" });
    expect(load.requests).toEqual([{ name: "default", method: "GET", path: "/a", headers: {}, weight: 1 }]);
    expect(describeLoad(load)).toBe("50/s on /a");
  });

  it("k6-style stages ramp from rate (default 0), and rate is their peak", () => {
    const load = parse({
      stages: [
        { duration: "10s", target: 200 },
        { duration: "20s", target: "200/s" },
        { duration: "5s", target: 0 },
      ],
    });
    expect(load.stages).toEqual([
      { durationMs: 10_000, from: 0, to: 200 },
      { durationMs: 20_000, from: 200, to: 200 },
      { durationMs: 5_000, from: 200, to: 0 },
    ]);
    expect(load.rate).toBe(200);
    expect(describeLoad(load)).toBe("from 0/s: 10s to 200/s, 20s at 200/s, 5s to 0/s, then holds on /");
    expect(parse({ rate: "20/s", stages: [{ duration: "1s", target: 10 }] }).stages[0]?.from).toBe(20);
  });

  it("a named mix with methods, headers, a body, a host, a cache-busting share and a connection cap", () => {
    const load = parse({
      rate: "100/s",
      requests: [
        { name: "home", path: "/", weight: 3 },
        {
          name: "search",
          method: "POST",
          path: "/api/search?q=1",
          headers: { "content-type": "application/json" },
          body: "{}",
          host: "www.example.test",
        },
      ],
      cacheBust: "20%",
      connection: { max: 8 },
    });
    expect(load.mix).toBe(true);
    expect(load.requests[1]).toMatchObject({
      method: "POST",
      weight: 1,
      host: "www.example.test",
      body: "{}",
    });
    expect(load.cacheBust).toBeCloseTo(0.2);
    expect(load).toMatchObject({ connection: "keep-alive", maxConnections: 8, http2: true });
    expect(describeLoad(load)).toContain(
      "; a mix of home (GET /, weight 3), search (POST /api/search?q=1, weight 1), 20% cache-busting",
    );
  });

  it("refuses what would send nothing or could not be told apart", () => {
    const message = (input: unknown) =>
      loadSchema.safeParse(input).error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    expect(message({ path: "/" })).toEqual([
      'rate: expected rate (a constant rate such as "100/s") or stages (k6-style ramps)',
    ]);
    expect(message({ stages: [{ duration: "5s", target: 0 }] })?.[0]).toContain("would send no request");
    expect(message({ rate: "5/s", requests: [{ name: "a", path: "//example.com/x" }] })?.[0]).toContain(
      'one "/"',
    );
    expect(message({ rate: "5/s", path: "/\\example.com" })?.[0]).toContain("backslashes");
    expect(message({ rate: "5/s", requests: [{ name: "a", path: "/x?faultline-bust=1" }] })?.[0]).toContain(
      "without the faultline-bust",
    );
    expect(
      message({
        rate: "5/s",
        requests: [
          { name: "a", path: "/" },
          { name: "a", path: "/b" },
        ],
      })?.[0],
    ).toContain('"a" is also requests[0]');
    expect(
      message({ rate: "5/s", requests: [{ name: "a", path: "/", headers: { "x-a": "1\r\nx-b: 2" } }] })?.[0],
    ).toContain("on one line");
  });
});

describe("checks scoped to a request of the mix", () => {
  it("measure that request's samples only", () => {
    const aggregator = new BucketAggregator(0, 0);
    for (let i = 0; i < 100; i++)
      aggregator.add({
        startedAt: i * 10,
        latencyMs: 1,
        status: i % 4 === 0 ? 503 : 200,
        error: "",
        edge: "edge-1",
        request: i % 4 === 0 ? "api" : "home",
      });
    const buckets = aggregator.releaseUpTo(1);
    expect(buckets[0]?.byRequest?.api?.count).toBe(25);
    expect(windowStats(buckets, undefined, "home").errorRate).toBe(0);
    const checks = [
      checkSchema.parse({ metric: "errors.rate", request: "api", below: "1%" }),
      checkSchema.parse({ metric: "errors.rate", below: "1%" }),
    ];
    expect(checks[0]?.name).toBe("errors.rate of api below 1%");
    const values = measureConditions(checks, { buckets, probes: [] }, { start: 0, end: 1 }, (c) => c.name);
    expect(values.map((v) => v.value)).toEqual([1, 0.25]);
  });

  it("refuses request: on anything but a load metric", () => {
    const result = checkSchema.safeParse({ metric: "traffic.share", pop: "a", request: "api", below: "50%" });
    expect(result.error?.issues[0]?.message).toContain("expected request only with a load metric");
  });
});
