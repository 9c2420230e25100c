import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InvalidInputError, ValidationError } from "../../src/errors.js";
import { loadExperiment } from "../../src/experiments/loader.js";
import { experimentSchema } from "../../src/experiments/schema.js";
import { parseYamlWithSchema } from "../../src/format/located-yaml.js";
import { validExperimentYaml } from "../support/experiments.js";
import { tempDir } from "../support/temp.js";

const parse = (text: string) => parseYamlWithSchema("exp.yaml", text, experimentSchema);

function issuesOf(text: string) {
  try {
    parse(text);
  } catch (error) {
    if (error instanceof ValidationError) return error.issues;
    throw error;
  }
  throw new Error("expected a validation error");
}

describe("experiment loader", () => {
  it("parses a valid experiment into typed values with defaults", () => {
    const experiment = parse(validExperimentYaml);
    expect(experiment.load.rate).toBe(100);
    expect(experiment.load.warmup).toBe(5000);
    expect(experiment.replica).toBe("default");
    expect(experiment.steadyState.checks[0]).toMatchObject({
      metric: "latency.p99",
      comparator: "below",
      threshold: 300,
      name: "latency.p99 below 300ms",
    });
    expect(experiment.steadyState.checks[1]?.threshold).toBeCloseTo(0.01);
    expect(experiment.method[0]).toMatchObject({
      fault: "latency",
      latency: 150,
      jitter: 0,
      for: 20_000,
      at: 0,
    });
  });

  it("locates a bad duration at its line and field path", () => {
    const [issue] = issuesOf(validExperimentYaml.replace("latency: 150ms", "latency: 150"));
    expect(issue).toMatchObject({ file: "exp.yaml", line: 15, path: "method[0].latency" });
    expect(issue?.message).toMatch(/expected a duration such as "150ms"/);
  });

  it("names an unknown field and suggests the closest known one", () => {
    const [issue] = issuesOf(validExperimentYaml.replace("    for: 20s", "    fro: 20s"));
    expect(issue?.path).toBe("method[0].fro");
    expect(issue?.line).toBe(16);
    expect(issue?.message).toMatch(/unknown field "fro"/);
    expect(issue?.suggestion).toBe('did you mean "for"?');
  });

  it("reports every issue, not only the first", () => {
    const issues = issuesOf(
      validExperimentYaml.replace("rate: 100/s", "rate: fast").replace("below: 1%", "below: lots"),
    );
    expect(issues.map((i) => i.path)).toEqual(["load.rate", "steadyState.checks[1].below"]);
    expect(issues.map((i) => i.line)).toEqual([4, 11]);
  });

  it("says which fault kinds exist", () => {
    const [issue] = issuesOf(validExperimentYaml.replace("fault: latency", "fault: earthquake"));
    expect(issue?.path).toBe("method[0].fault");
    expect(issue?.message).toMatch(/one of: latency/);
  });

  it("points a missing required field at its parent", () => {
    const [issue] = issuesOf(validExperimentYaml.replace("    for: 20s\n", ""));
    expect(issue?.path).toBe("method[0].for");
    expect(issue?.message).toMatch(/required/);
    expect(issue?.line).toBe(13);
  });

  it("rejects a check with two comparators", () => {
    const [issue] = issuesOf(validExperimentYaml.replace("below: 300ms", "below: 300ms\n      above: 1ms"));
    expect(issue?.message).toMatch(/exactly one of below, above, atMost, atLeast/);
  });

  it("rejects jitter above latency", () => {
    const [issue] = issuesOf(
      validExperimentYaml.replace("latency: 150ms", "latency: 150ms\n    jitter: 200ms"),
    );
    expect(issue?.path).toBe("method[0].jitter");
    expect(issue?.line).toBe(16);
  });

  it("parses between, phases and allowFor on checks", () => {
    const experiment = parse(
      validExperimentYaml.replace(
        "      below: 300ms",
        '      between: ["10ms", "300ms"]\n      phases: [inject, recover]\n      allowFor: 5s',
      ),
    );
    expect(experiment.steadyState.checks[0]).toMatchObject({
      comparator: "between",
      threshold: 10,
      thresholdHigh: 300,
      phases: ["inject", "recover"],
      allowForMs: 5000,
    });
    expect(experiment.steadyState.checks[1]?.phases).toEqual(["baseline", "inject", "recover", "verify"]);
    const [issue] = issuesOf(
      validExperimentYaml.replace("      below: 300ms", '      between: ["300ms", "10ms"]'),
    );
    expect(issue?.message).toMatch(/low at most high/);
  });

  it("rejects a fault that would run longer than safety.maxFaultDuration", () => {
    const [issue] = issuesOf(validExperimentYaml.replace("for: 20s", "for: 45m"));
    expect(issue?.path).toBe("method[0].for");
    expect(issue?.message).toMatch(/within safety.maxFaultDuration \(30m0s\); at \+ for is 45m0s/);
  });

  it("rejects an error-rate threshold above 100%", () => {
    const [issue] = issuesOf(validExperimentYaml.replace("below: 1%", "below: 150%"));
    expect(issue?.path).toBe("steadyState.checks[1].below");
    expect(issue?.message).toMatch(/from "0%" to "100%"/);
  });

  it("reports YAML syntax errors with their line", () => {
    const [issue] = issuesOf("version: 1\nname: [unclosed\nload: {}\n");
    expect(issue?.message).toMatch(/^YAML syntax/);
    expect(issue?.line).toBeGreaterThanOrEqual(2);
  });

  it("formats a one-line-per-issue message", () => {
    try {
      parse(validExperimentYaml.replace("rate: 100/s", "rate: fast"));
      expect.unreachable();
    } catch (error) {
      expect((error as ValidationError).message).toBe(
        'exp.yaml:4:9 load.rate: expected a rate such as "100/s" or "6000/m", got "fast"',
      );
      expect((error as ValidationError).exitCode).toBe(2);
    }
  });

  it("turns a missing file into an invalid-input error", async () => {
    await expect(loadExperiment("/nonexistent/exp.yaml")).rejects.toThrow(InvalidInputError);
  });

  it("loads the file from disk", async () => {
    const dir = tempDir("faultline-loader-");
    const file = join(dir, "exp.yaml");
    writeFileSync(file, validExperimentYaml);
    const loaded = await loadExperiment(file);
    expect(loaded.experiment.name).toBe("unit-test");
  });
});

describe("fault kinds in the schema", () => {
  const withFault = (fault: string) =>
    validExperimentYaml.replace(/method:\n[\s\S]*$/, `method:\n${fault}\n`);

  it("accepts each fault kind with its defaults", () => {
    const kinds = [
      "  - { fault: bandwidth, target: edge-1, rate: 100KB/s, for: 5s }",
      "  - { fault: timeout, target: edge-1, for: 5s }",
      "  - { fault: reset, target: edge-1, after: 100ms, for: 5s }",
      "  - { fault: packet-loss, target: edge-1, loss: 10%, for: 5s }",
      "  - { fault: node-kill, target: { role: edge, pick: 1 }, signal: term, for: 5s }",
      "  - { fault: partition, target: edge-1, from: origin, for: 5s }",
      "  - { fault: stress, target: edge-1, cpu: 2, memory: 64MB, for: 5s }",
      "  - { fault: origin-brownout, errors: 10%, for: 5s }",
    ];
    const parsed = kinds.map((k) => parse(withFault(k)).method[0]);
    expect(parsed.map((f) => f?.fault)).toEqual([
      "bandwidth",
      "timeout",
      "reset",
      "packet-loss",
      "node-kill",
      "partition",
      "stress",
      "origin-brownout",
    ]);
    expect(parsed[6]).toMatchObject({ cpu: 2, memory: 64_000_000 });
    expect(parsed[7]).toMatchObject({
      errors: 0.1,
      status: 503,
      delay: 1000,
      target: { kind: "name", name: "origin" },
    });
    expect(parsed[1]).toMatchObject({ direction: "both", after: 0 });
    expect(parsed[4]).toMatchObject({
      mode: "kill",
      signal: "SIGTERM",
      target: { kind: "role", role: "edge", pick: 1 },
    });
  });

  it.each([
    ["  - { fault: packet-loss, target: edge-1, loss: 150%, for: 5s }", "method[0].loss", /at most "100%"/],
    [
      "  - { fault: node-kill, target: edge-1, signal: SIGFOO, for: 5s }",
      "method[0].signal",
      /expected a signal among/,
    ],
    [
      "  - { fault: latency, target: edge-1, latency: -5ms, for: 5s }",
      "method[0].latency",
      /expected a duration/,
    ],
    ["  - { fault: node-kill, target: { role: cache }, for: 5s }", "method[0].target", /role|service name/],
    ["  - { fault: partition, target: edge-1, from: edge-1, for: 5s }", "method[0].from", /another service/],
    ["  - { fault: stress, target: edge-1, for: 5s }", "method[0].cpu", /cpu, memory or both/],
    [
      "  - { fault: origin-brownout, errors: 10%, status: 404, for: 5s }",
      "method[0].status",
      /500, 502, 503, 504/,
    ],
  ])("locates %s", (fault, path, message) => {
    const [issue] = issuesOf(withFault(fault));
    expect(issue?.path).toBe(path);
    expect(issue?.message).toMatch(message);
  });
});
