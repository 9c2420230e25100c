import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InvalidInputError, ValidationError } from "../../src/errors.js";
import { loadExperiment } from "../../src/experiments/loader.js";
import { planActions } from "../../src/experiments/plan.js";
import { faultSchema } from "../../src/experiments/schema.js";
import { formatSkew, MAX_SKEW_DAYS, parseSkew } from "../../src/faults/clock-skew.js";
import { kindOf } from "../../src/faults/registry.js";
import { defaultTopology, type Topology } from "../../src/replica/topology.js";
import { tempDir } from "../support/temp.js";

// The clock-skew fault's fields, bounds and target checks, without Docker.

const dir = tempDir("clock-skew-unit-");

function experiment(skew: string, target = "edge-1", replica = "default"): string {
  const file = join(dir, `e-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    file,
    `version: 1
name: skew
replica: ${replica}
load: { rate: 10/s }
steadyState:
  window: 5s
  checks:
    - { metric: errors.rate, below: 1% }
method:
  - fault: clock-skew
    target: ${target}
    skew: ${skew}
    for: 20s
`,
  );
  return file;
}

async function refusal(file: string): Promise<ValidationError> {
  const error = await loadExperiment(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ValidationError)) throw new Error(`expected a located error, got ${String(error)}`);
  return error;
}

const parse = (skew: string) => {
  const fault = faultSchema.parse({ fault: "clock-skew", target: "edge-1", skew, for: "10s" });
  if (fault.fault !== "clock-skew") throw new Error("not a clock skew");
  return fault;
};

describe("clock-skew's skew field", () => {
  it("reads signed durations, days included", () => {
    expect(parseSkew("2d")).toBe(172_800_000);
    expect(parseSkew("+90m")).toBe(5_400_000);
    expect(parseSkew("-1h")).toBe(-3_600_000);
    expect(parseSkew("- 30s")).toBe(-30_000);
    expect(parseSkew("soon")).toBeUndefined();
    expect(parseSkew("2")).toBeUndefined();
    expect(parseSkew("--1h")).toBeUndefined();
    expect(parse("-90m").skew).toBe(-5_400_000);
    expect(parse(`${MAX_SKEW_DAYS}d`).skew).toBe(MAX_SKEW_DAYS * 86_400_000);
    expect(parse(`-${MAX_SKEW_DAYS}d`).skew).toBe(-MAX_SKEW_DAYS * 86_400_000);
  });

  it("says a skew as one writes it", () => {
    expect(formatSkew(172_800_000)).toBe("+2d");
    expect(formatSkew(-5_400_000)).toBe("-90m");
    expect(formatSkew(-3_600_000)).toBe("-1h");
    expect(formatSkew(61_000)).toBe("+61s");
  });

  it.each([
    [
      "18251d",
      "is beyond what the mechanism supports: at most 18250d (50 years) either way",
      'skew by at most "18250d" ahead',
    ],
    ["-20000d", "is beyond what the mechanism supports", "nginx clamps dates before 1970 and after 9999"],
    ["0s", "expected a skew of at least 1s either way", "1s"],
    ["500ms", "expected a skew of at least 1s either way", "1s"],
    ["1500ms", "expected a skew in whole seconds", "round it to a second"],
    ["soon", 'expected a signed duration such as "2d", "+90m" or "-1h", got "soon"', "optional sign"],
  ])("%s is a located error at method[0].skew, with a suggestion", async (skew, message, suggestion) => {
    const file = experiment(skew);
    const error = await refusal(file);
    const issue = error.issues.find((i) => i.path === "method[0].skew");
    expect(issue?.message, error.message).toContain(message);
    expect(issue?.line).toBe(12);
    expect(issue?.column).toBe(11);
    expect(error.suggestion).toContain(suggestion);
    expect(error.message.startsWith(`${file}:12:11 method[0].skew: `)).toBe(true);
  });

  it("a number is refused, located, as not a signed duration", async () => {
    const error = await refusal(experiment("2"));
    expect(error.issues[0]?.path).toBe("method[0].skew");
    expect(error.issues[0]?.message).toContain("expected a signed duration");
  });
});

describe("clock-skew's targets", () => {
  const topology = defaultTopology();
  const check = (service: string, on: Topology = topology) => {
    const fault = parse("2d");
    return () => kindOf(fault).check(fault, service, on);
  };

  it("accepts an edge and the shield of Faultline's image", () => {
    expect(check("edge-1")).not.toThrow();
    const withShield: Topology = {
      ...topology,
      services: [
        ...topology.services,
        { name: "shield", role: "shield", image: "faultline/edge:local", publish: [] },
      ],
    };
    expect(check("shield", withShield)).not.toThrow();
  });

  it.each([
    ["origin", "origin (origin) runs without libfaketime"],
    ["lb", "lb (lb) runs without libfaketime"],
  ])("refuses %s, naming the targets that work", (service, why) => {
    const error = (() => {
      try {
        check(service)();
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InvalidInputError);
    const e = error as InvalidInputError;
    expect(e.message).toBe(`a clock skew on a target whose clock Faultline cannot skew: ${why}`);
    expect(e.suggestion).toContain("edge-1, edge-2, edge-3");
  });

  it("refuses an edge on an image of the topology file's, and an attached stack's containers", () => {
    const own: Topology = {
      ...topology,
      services: topology.services.map((s) => (s.name === "edge-1" ? { ...s, own: { image: true } } : s)),
    };
    expect(check("edge-1", own)).toThrow(
      /edge-1 runs an image of the topology file's, which has no libfaketime/,
    );
    const attached: Topology = { ...topology, attach: { by: "compose", selector: "shop", containers: {} } };
    expect(check("edge-1", attached)).toThrow(/a container of the attached stack/);
  });

  it("is refused where it is written, at load time, with the line of the fault", async () => {
    const file = experiment("2d", "origin", join(process.cwd(), "topologies/default.yaml"));
    const error = await refusal(file);
    expect(error.issues[0]?.path).toBe("method[0]");
    expect(error.message).toContain("a clock skew on a target whose clock Faultline cannot skew: origin");
    expect(error.suggestion).toContain("target an edge or the shield");
  });

  it("plans its action and revert, and refuses two skews of one clock at once", () => {
    const [action] = planActions([parse("-90m")], topology, 1, 1).actions;
    expect(action?.description).toBe("skew the clock of edge-1 -90m (behind)");
    expect(action?.revert).toBe("set the clock of edge-1 true again");
    const ahead = planActions([parse("2d")], topology, 1, 1).actions[0];
    expect(ahead?.revert).toContain("and purge its cache");
    expect(() => planActions([parse("2d"), parse("-1h")], topology, 1, 1)).toThrow(
      /overlaps f1 \(clock-skew\)/,
    );
  });
});
