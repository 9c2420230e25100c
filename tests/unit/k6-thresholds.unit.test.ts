import { describe, expect, it } from "vitest";
import { checkSchema } from "../../src/experiments/check-schema.js";
import { fromK6, parseK6Key } from "../../src/experiments/k6-thresholds.js";
import { steadyStateSchema } from "../../src/experiments/schema.js";

describe("k6 thresholds", () => {
  it("map each supported expression to one native metric, comparator and threshold", () => {
    expect(fromK6("http_req_duration", "p(95)<200")).toEqual({
      metric: "latency.p95",
      comparator: "below",
      text: "200ms",
    });
    expect(fromK6("http_req_duration", "avg <= 100")).toEqual({
      metric: "latency.avg",
      comparator: "atMost",
      text: "100ms",
    });
    expect(fromK6("http_req_duration", "med<50")).toMatchObject({ metric: "latency.p50" });
    expect(fromK6("http_req_duration", "max<1500")).toMatchObject({ metric: "latency.max" });
    expect(fromK6("http_req_failed", "rate<0.01")).toEqual({
      metric: "errors.rate",
      comparator: "below",
      text: "1%",
    });
    expect(fromK6("http_req_failed", "rate<0.001")).toMatchObject({ text: "0.1%" });
    expect(fromK6("http_reqs", "rate>=100")).toEqual({
      metric: "throughput",
      comparator: "atLeast",
      text: "100/s",
    });
  });

  it("refuse what has no exact native meaning, naming what is supported", () => {
    expect(fromK6("http_req_duration", "p(97)<200")).toContain("p(50), p(90), p(95), p(99), med, avg, max");
    expect(fromK6("http_req_duration", "p(95)==200")).toContain("expected <, <=, > or >=");
    expect(fromK6("http_req_duration", "rate<0.01")).toContain("one of p(50)");
    expect(fromK6("http_req_failed", "rate<2")).toContain("from 0 to 1");
    expect(fromK6("http_req_duration", "p95 under 200")).toContain("supported: p(50)");
    expect(parseK6Key("http_req_waiting")).toContain(
      "expected a k6 metric: http_req_duration, http_req_failed, http_reqs",
    );
    expect(parseK6Key("http_req_duration{name:api}")).toEqual({
      metric: "http_req_duration",
      request: "api",
    });
  });

  it("a check's threshold: and the steadyState thresholds map become the native checks", () => {
    const k6 = checkSchema.parse({ threshold: "p(95)<200" });
    const native = checkSchema.parse({ metric: "latency.p95", below: "200ms" });
    expect(k6).toMatchObject({
      metric: native.metric,
      comparator: native.comparator,
      threshold: native.threshold,
    });
    expect(k6).toMatchObject({ name: "http_req_duration p(95)<200", k6: "p(95)<200" });
    const steady = steadyStateSchema.parse({
      thresholds: { http_req_failed: ["rate<0.01"], "http_req_duration{name:api}": ["p(99)<300", "avg<100"] },
    });
    expect(steady.checks.map((c) => [c.name, c.metric, c.comparator, c.threshold, c.request])).toEqual([
      ["http_req_failed rate<0.01", "errors.rate", "below", 0.01, undefined],
      ["http_req_duration{name:api} p(99)<300", "latency.p99", "below", 300, "api"],
      ["http_req_duration{name:api} avg<100", "latency.avg", "below", 100, "api"],
    ]);
  });

  it("refuse a threshold beside a comparator or a metric it does not go with, at the field", () => {
    const issue = (input: unknown) => checkSchema.safeParse(input).error?.issues[0];
    expect(issue({ threshold: "p(95)<200", below: "1s" })).toMatchObject({ path: ["threshold"] });
    expect(issue({ threshold: "p(95)<200", metric: "errors.rate" })?.message).toContain(
      "only metric: throughput",
    );
    const steady = steadyStateSchema.safeParse({ thresholds: { http_req_failed: ["p(95)<200"] } });
    expect(steady.error?.issues[0]).toMatchObject({ path: ["thresholds", "http_req_failed", 0] });
  });
});
