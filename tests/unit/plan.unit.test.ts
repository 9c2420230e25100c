import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../src/errors.js";
import { planFaults } from "../../src/experiments/plan.js";
import { experimentSchema } from "../../src/experiments/schema.js";
import { resolveTarget, seededRandom } from "../../src/experiments/targets.js";
import { parseYamlWithSchema } from "../../src/format/located-yaml.js";
import { defaultTopology } from "../../src/replica/topology.js";

const topology = defaultTopology("default", 5);

function experimentWith(method: string, extra = "") {
  return parseYamlWithSchema(
    "exp.yaml",
    `version: 1
name: plan-test
load: { rate: 10/s }
steadyState: { checks: [{ metric: errors.rate, below: 1% }] }
method:
${method}
${extra}`,
    experimentSchema,
  );
}

describe("resolveTarget", () => {
  it("resolves a name, a role, a label selector", () => {
    const rng = seededRandom(1);
    expect(resolveTarget({ kind: "name", name: "edge-2" }, topology, rng)).toEqual(["edge-2"]);
    expect(
      resolveTarget({ kind: "role", role: "edge", pick: undefined, percent: undefined }, topology, rng),
    ).toHaveLength(5);
    expect(
      resolveTarget(
        { kind: "labels", labels: { "faultline.role": "origin" }, pick: undefined, percent: undefined },
        topology,
        rng,
      ),
    ).toEqual(["origin"]);
  });

  it("picks the same services for the same seed, and differs across seeds", () => {
    const pick = (seed: number) =>
      resolveTarget(
        { kind: "role", role: "edge", pick: 2, percent: undefined },
        topology,
        seededRandom(seed),
      ).join(",");
    expect(pick(42)).toBe(pick(42));
    const seen = new Set(Array.from({ length: 20 }, (_, seed) => pick(seed)));
    expect(seen.size).toBeGreaterThan(3);
  });

  it("turns a percentage into at least one service", () => {
    const choose = (percent: number) =>
      resolveTarget({ kind: "role", role: "edge", pick: undefined, percent }, topology, seededRandom(3))
        .length;
    expect(choose(0.01)).toBe(1);
    expect(choose(0.4)).toBe(2);
    expect(choose(1)).toBe(5);
  });

  it("lists the candidates when nothing matches, and never offers Faultline's own instruments", () => {
    const error = (() => {
      try {
        resolveTarget({ kind: "name", name: "toxiproxy" }, topology, seededRandom(1));
      } catch (e) {
        return e as InvalidInputError;
      }
    })();
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error?.suggestion).toBe(
      "target one of: origin, edge-1, edge-2, edge-3, edge-4, edge-5, lb (or a role: lb, edge, origin)",
    );
    expect(() =>
      resolveTarget(
        { kind: "labels", labels: { team: "x" }, pick: undefined, percent: undefined },
        topology,
        seededRandom(1),
      ),
    ).toThrow(/no service of replica default matches labels/);
  });
});

describe("planFaults", () => {
  it("expands a multi-target fault into one action per service, with ids and reverts", () => {
    const plan = planFaults(
      experimentWith("  - { fault: node-kill, target: { role: edge, pick: 2 }, mode: pause, for: 10s }"),
      topology,
      7,
    );
    expect(plan.actions).toHaveLength(2);
    expect(plan.actions[0]?.id).toMatch(/^f1\.edge-\d$/);
    expect(plan.actions[0]?.revert).toMatch(/^unpause edge-\d$/);
  });

  it("never takes all edges at once by default", () => {
    expect(() =>
      planFaults(experimentWith("  - { fault: node-kill, target: { role: edge }, for: 10s }"), topology, 1),
    ).toThrow(/leave 0 of 5 edges serving .*minHealthyEdges is 1/);
  });

  it("counts the edges behind a load balancer that is out as not serving", () => {
    expect(() =>
      planFaults(experimentWith("  - { fault: node-kill, target: lb, mode: pause, for: 10s }"), topology, 1),
    ).toThrow(/leave 0 of 5 edges serving \(lb disrupted\); safety.minHealthyEdges is 1/);
    expect(
      planFaults(
        experimentWith("  - { fault: node-kill, target: lb, for: 10s }", "safety: { minHealthyEdges: 0 }"),
        topology,
        1,
      ).actions,
    ).toHaveLength(1);
  });

  it("counts overlapping faults together, and allows them when staggered", () => {
    const overlapping = `  - { fault: node-kill, target: { role: edge, pick: 3 }, for: 10s }
  - { fault: timeout, target: { role: edge, pick: 1 }, at: 5s, for: 10s }`;
    expect(() =>
      planFaults(experimentWith(overlapping, "safety: { minHealthyEdges: 2 }"), topology, 1),
    ).toThrow(InvalidInputError);
    const staggered = `  - { fault: node-kill, target: edge-1, for: 10s }
  - { fault: node-kill, target: edge-2, at: 10s, for: 10s }`;
    expect(
      planFaults(experimentWith(staggered, "safety: { minHealthyEdges: 4 }"), topology, 1).actions,
    ).toHaveLength(2);
  });

  it("refuses two disruptive faults on one service at once", () => {
    const twice = `  - { fault: node-kill, target: edge-1, for: 10s }
  - { fault: timeout, target: edge-1, at: 2s, for: 10s }`;
    expect(() => planFaults(experimentWith(twice), topology, 1)).toThrow(
      /f1 and f2 would both take edge-1 out of service/,
    );
  });

  it("rejects a link fault on a service without a link, and a signal with a mode that ignores it", () => {
    expect(() =>
      planFaults(experimentWith("  - { fault: latency, target: lb, latency: 10ms, for: 5s }"), topology, 1),
    ).toThrow(/lb has no Toxiproxy link/);
    expect(() =>
      planFaults(
        experimentWith("  - { fault: node-kill, target: edge-1, mode: pause, signal: SIGTERM, for: 5s }"),
        topology,
        1,
      ),
    ).toThrow(/only applies to mode kill/);
  });
});
