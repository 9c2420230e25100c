import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../src/errors.js";
import { planActions } from "../../src/experiments/plan.js";
import { faultSchema } from "../../src/experiments/schema.js";
import { compactGlob, type HttpRouteFault, routeRule } from "../../src/faults/http-route.js";
import { kindOf } from "../../src/faults/registry.js";
import { defaultTopology } from "../../src/replica/topology.js";

// The http-route fault's fields, its rule for the load balancer's Lua action, and its targets.

const parse = (input: Record<string, unknown>) =>
  faultSchema.parse({ fault: "http-route", target: "lb", for: "10s", ...input }) as HttpRouteFault;

describe("http-route", () => {
  it("hands globs to the Lua matcher with runs of * made one", () => {
    expect(compactGlob("/api/**/x***")).toBe("/api/*/x*");
    expect(compactGlob("/a-b(1)%[x]+")).toBe("/a-b(1)%[x]+");
  });

  it("writes a rule with only safe characters for the shell and the runtime API", () => {
    const rule = routeRule(
      parse({
        match: { path: "/api/*", method: "POST", header: { name: "X-Beta", value: "yes*" } },
        share: "20%",
        body: "it's down; sorry\n",
      }),
    );
    expect(rule).toMatch(/^[A-Za-z0-9_.%&=-]+$/);
    const fields = Object.fromEntries(rule.split("&").map((kv) => kv.split("=").map(decodeURIComponent)));
    expect(fields).toEqual({
      p: "/api/*",
      m: "POST",
      hn: "x-beta",
      hv: "yes*",
      a: "status",
      s: "200",
      b: "it's down; sorry\n",
      r: "0.2",
    });
    expect(routeRule(parse({ match: { path: "/x" }, delay: "2s", jitter: "100ms" }))).toBe(
      "p=%2Fx&a=delay&d=2000&j=100&r=1",
    );
    expect(routeRule(parse({ match: { path: "/x" }, abort: true }))).toContain("a=abort");
  });

  it("refuses a fault without one action, a jitter beyond its delay, a glob that can never match", () => {
    const issues = (input: Record<string, unknown>) =>
      faultSchema
        .safeParse({ fault: "http-route", target: "lb", for: "10s", match: { path: "/a" }, ...input })
        .error?.issues.map((i) => i.message);
    expect(issues({})?.[0]).toContain("expected exactly one action");
    expect(issues({ abort: true, status: 503 })?.[0]).toContain("got status/body and abort");
    expect(issues({ delay: "100ms", jitter: "200ms" })?.[0]).toContain("at most the delay");
    expect(issues({ status: 503, match: { path: "api" } })?.[0]).toContain("could never match");
    expect(issues({ status: 99 })?.[0]).toContain("from 100 to 599");
  });

  it("acts on the L7 hops of Faultline's configs only, and plans as an exclusive action", () => {
    const topology = defaultTopology("x", 3);
    const fault = parse({ match: { path: "/api/*" }, share: "20%", status: 503 });
    for (const hop of ["lb", "edge-1", "origin"])
      expect(() => kindOf(fault).check(fault, hop, topology)).not.toThrow();
    expect(() => kindOf(fault).check(fault, "toxiproxy", topology)).toThrow(/not an HTTP hop/);
    const own = {
      ...topology,
      services: topology.services.map((s) =>
        s.name === "edge-1" ? { ...s, image: "mine/edge:1", own: { image: true as const } } : s,
      ),
    };
    expect(() => kindOf(fault).check(fault, "edge-1", own)).toThrow(InvalidInputError);
    expect(() => kindOf(fault).check(fault, "edge-1", own)).toThrow(/own image, config or command/);
    const [action] = planActions([fault], topology, 1, 0).actions;
    expect(action?.description).toBe("answer 503 to 20% of any /api/* on lb");
    expect(kindOf(fault).exclusive?.(topology)).toBe("its one route rule");
  });

  it("may overlap a certificate fault on the same load balancer, not another route rule", () => {
    const topology = { ...defaultTopology("x", 3), tls: { terminate: "lb" as const } };
    const route = parse({ match: { path: "/api/*" }, share: "20%", status: 503 });
    const certificate = faultSchema.parse({
      fault: "tls-certificate",
      target: "lb",
      flaw: "expired",
      for: "10s",
    });
    expect(planActions([route, certificate], topology, 1, 0).actions).toHaveLength(2);
    expect(() =>
      planActions([route, parse({ match: { path: "/login" }, delay: "2s" })], topology, 1, 0),
    ).toThrow(
      /method\[1\]: http-route on lb overlaps f1 \(http-route\), and on this stack each needs its one route rule/,
    );
  });
});
