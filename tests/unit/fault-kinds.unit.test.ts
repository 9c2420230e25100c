import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { planActions } from "../../src/experiments/plan.js";
import { faultSchema } from "../../src/experiments/schema.js";
import type { FaultKindModule } from "../../src/faults/fault-kind.js";
import { allKinds, allLeftovers, faultKinds, kindNamed, wasDisruptive } from "../../src/faults/registry.js";
import { parseLocated } from "../../src/format/located-yaml.js";
import { loadTopology } from "../../src/replica/topology-file.js";

// The registry is the one list of fault kinds: these tests check what is derived from it.

const CONFORMANCE = "tests/topologies/conformance.yaml";

const scaffolded = (kind: FaultKindModule) =>
  [`fault: ${kind.kind}`, `target: ${kind.scaffold.target}`, "for: 10s", ...kind.scaffold.lines].join("\n");

describe("the fault-kind registry", () => {
  it("lists each kind once, in the registry's order, and the union accepts exactly those", () => {
    expect(faultKinds).toEqual(allKinds().map((k) => k.kind));
    expect(new Set(faultKinds).size).toBe(faultKinds.length);
    expect(() => faultSchema.parse({ fault: "gremlins", for: "1s", target: "edge-1" })).toThrow(
      /expected fault to be one of: latency, bandwidth/,
    );
  });

  it.each(allKinds().map((k) => [k.kind, k] as const))(
    "%s: its scaffold is a valid fault that plans on the conformance replica (HTTPS and DNS)",
    async (_name, kind) => {
      const { data } = parseLocated(`${kind.kind}.yaml`, scaffolded(kind), faultSchema);
      const topology = await loadTopology(CONFORMANCE);
      const [action] = planActions([data], topology, 1, 0).actions;
      expect(action?.description).toBeTruthy();
      expect(action?.revert).toBeTruthy();
      expect(kindNamed(kind.kind)).toBe(kind);
    },
  );

  it("sweeps each mechanism once, stopped containers first", () => {
    const ids = allLeftovers().map((l) => l.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[0]).toBe("container-state");
    expect(ids).toEqual(
      expect.arrayContaining(["toxiproxy-toxics", "netfilter", "stress-processes", "origin-config"]),
    );
  });

  it("judges a journaled fault disruptive as planned, or by its kind for older journals", () => {
    expect(wasDisruptive({ fault: "latency", params: {}, disruptive: true })).toBe(true);
    expect(wasDisruptive({ fault: "node-kill", params: { mode: "pause" } })).toBe(true);
    expect(wasDisruptive({ fault: "packet-loss", params: { loss: 0.6, direction: "both" } })).toBe(true);
    expect(wasDisruptive({ fault: "packet-loss", params: { loss: 0.1, direction: "both" } })).toBe(false);
    expect(wasDisruptive({ fault: "latency", params: { latency: 100 } })).toBe(false);
    expect(wasDisruptive({ fault: "a-kind-of-the-future", params: {} })).toBe(false);
  });

  it("the README's fault table is the registry's kinds and summaries", () => {
    const readme = readFileSync("README.md", "utf8");
    const rows = [...readme.matchAll(/^\| `([a-z-]+)` \| (.+) \|$/gm)]
      .filter((m) => (faultKinds as readonly string[]).includes(m[1] ?? ""))
      .map((m) => ({ kind: m[1], summary: m[2] }));
    expect(
      rows,
      "copy each module's `summary` into the README's fault table, in the registry's order",
    ).toEqual(allKinds().map((k) => ({ kind: k.kind, summary: k.summary })));
  });
});
