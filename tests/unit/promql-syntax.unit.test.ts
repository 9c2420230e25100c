import { describe, expect, it } from "vitest";
import { promqlSyntaxError } from "../../src/format/promql-syntax.js";

// The offline PromQL check: Prometheus's own grammar says whether a query parses; names stay
// for the live check. Each case is a query an SRE could write in a steady-state check.
describe("PromQL syntax, offline", () => {
  it.each([
    "up",
    'sum(rate(haproxy_backend_http_responses_total{code="5xx"}[30s]))',
    "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))",
    'faultline_fault_active{kind="latency"} == 1',
    "max_over_time(up[5m:30s]) offset 1m",
    "(a / b) * 100 > bool 5",
  ])("accepts %s", async (query) => {
    expect(await promqlSyntaxError(query)).toBeUndefined();
  });

  it("locates an error inside the query, 1-based", async () => {
    const error = await promqlSyntaxError('up{job="x" bar');
    expect(error?.column).toBeGreaterThan(1);
    expect(error?.column).toBeLessThanOrEqual('up{job="x" bar'.length);
    expect(error?.message).toContain(`column ${error?.column}`);
  });

  it("says a query that ends too soon does so", async () => {
    const error = await promqlSyntaxError("sum(rate(up[1m])");
    expect(error?.message).toContain("ends too soon");
  });

  it("refuses an empty query", async () => {
    expect((await promqlSyntaxError("  "))?.message).toContain("empty");
  });

  it.each(["rate(up[1m]", "up{", "sum by (job (up)", "up +", "1 +* 2", "up[5x]"])(
    "refuses %s",
    async (query) => {
      expect(await promqlSyntaxError(query)).toBeDefined();
    },
  );
});
