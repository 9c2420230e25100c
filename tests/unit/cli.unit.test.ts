import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { applyEvent, newLiveState, renderLive } from "../../src/cli/live.js";
import { ExitCode } from "../../src/errors.js";
import { defaultTarget, scaffoldExperiment } from "../../src/experiments/scaffold.js";
import { experimentSchema, faultKinds } from "../../src/experiments/schema.js";
import { parseYamlWithSchema } from "../../src/format/located-yaml.js";
import type { JournalEvent } from "../../src/journal/journal.js";
import { loadSuite, mostSevere } from "../../src/run/suite.js";
import { validExperimentYaml } from "../support/experiments.js";
import { tempDir } from "../support/temp.js";

const t0 = Date.parse("2026-11-28T12:00:00.000Z");
const at = (second: number) => new Date(t0 + second * 1000).toISOString();

describe("the live progress view", () => {
  it("shows the phase, elapsed and remaining time, the active faults and each check's latest value", () => {
    const state = newLiveState("edge-latency", 60);
    const events: JournalEvent[] = [
      {
        at: at(0),
        type: "run-started",
        runId: "r-1",
        experiment: { name: "edge-latency", file: "e.yaml" },
        replica: "default",
        load: { driver: "vegeta", version: "v12", url: "http://127.0.0.1:1/", ratePerSecond: 100 },
        plan: {
          windowSeconds: 5,
          warmupSeconds: 5,
          baselineSeconds: 15,
          injectSeconds: 20,
          recoverSeconds: 10,
          verifySeconds: 10,
          recoveryTargetMs: 10_000,
        },
        seed: 1,
      },
      { at: at(20), type: "phase", phase: "inject", second: 20 },
      {
        at: at(20),
        type: "fault-intent",
        id: "f1",
        fault: "latency",
        target: "edge-1",
        description: "latency 150ms on link edge-1 (downstream)",
        params: { at: 0, for: 20_000 },
      },
      { at: at(20), type: "fault-applied", id: "f1", second: 20 },
      {
        at: at(28),
        type: "window",
        phase: "inject",
        start: 20,
        end: 25,
        results: [
          {
            check: "p90 under 100ms",
            metric: "latency.p90",
            comparator: "below",
            threshold: 100,
            value: 151,
            ok: false,
          },
          {
            check: "errors under 1%",
            metric: "errors.rate",
            comparator: "below",
            threshold: 0.01,
            value: 0,
            ok: true,
          },
          {
            check: "baseline only",
            metric: "errors.rate",
            comparator: "below",
            threshold: 0.01,
            ok: undefined,
            applies: false,
            value: undefined,
          },
        ],
      },
      { at: at(29), type: "lb-state", edge: "edge-1", state: "up" },
    ];
    for (const e of events) applyEvent(state, e);
    const frame = renderLive(state, t0 + 30_000);
    expect(frame.split("\n")).toEqual(
      [
        "faultline ▸ edge-latency · run r-1",
        "phase inject    ████████████░░░░░░░░░░░░  0:30 elapsed · about 0:30 left",
        "active faults:",
        "  f1 latency 150ms on link edge-1 (downstream)  (0:10 left)",
        "checks (latest window):",
        "  ✗ p90 under 100ms  151ms      inject 20-25s",
        "  ✓ errors under 1%  0.0%       inject 20-25s",
        "load balancer: edge-1 up",
        "recent:",
        "20s  phase inject",
        "20s  applying f1: latency 150ms on link edge-1 (downstream)",
        "20s  applied  f1",
        "29s  load balancer: edge-1 up",
      ].map((line, i) => (i >= 9 ? `  ${line}` : line)),
    );

    applyEvent(state, { at: at(40), type: "fault-reverted", id: "f1", second: 40 });
    expect(renderLive(state, t0 + 40_000)).toContain("active faults: none");
  });
});

describe("faultline init's scaffold", () => {
  it.each(faultKinds)("writes a valid, commented experiment for %s", (fault) => {
    const text = scaffoldExperiment({
      name: `try-${fault}`,
      fault,
      target: defaultTarget(fault),
      rate: "100/s",
      for: "30s",
    });
    const experiment = parseYamlWithSchema("x.yaml", text, experimentSchema);
    expect(experiment.method[0]?.fault).toBe(fault);
    expect(text).toMatch(/^# try-/);
  });

  it("refuses values that do not make a valid experiment", () => {
    expect(() =>
      scaffoldExperiment({ name: "x", fault: "latency", target: "edge-1", rate: "fast", for: "30s" }),
    ).toThrow(/load\.rate: expected a rate/);
  });
});

describe("suites", () => {
  it("exit with the most severe code of their runs", () => {
    expect(mostSevere([ExitCode.passed, ExitCode.degraded])).toBe(ExitCode.degraded);
    expect(mostSevere([ExitCode.degraded, ExitCode.gateFailed, ExitCode.inconclusive])).toBe(
      ExitCode.gateFailed,
    );
    expect(mostSevere([ExitCode.gateFailed, ExitCode.failed])).toBe(ExitCode.failed);
    expect(mostSevere([ExitCode.failed, ExitCode.interrupted])).toBe(ExitCode.interrupted);
    expect(mostSevere([])).toBe(ExitCode.passed);
  });

  it("take folders and files, filter by tag, and report every invalid file at once", async () => {
    const dir = tempDir("faultline-suite-");
    const write = (name: string, text: string) => writeFileSync(join(dir, name), text);
    write("a.yaml", validExperimentYaml.replace("name: unit-test", "name: a\ntags: [edge, fast]"));
    write("b.yml", validExperimentYaml.replace("name: unit-test", "name: b\ntags: [origin]"));
    write("notes.txt", "not an experiment");
    expect((await loadSuite([dir])).map((l) => l.experiment.name)).toEqual(["a", "b"]);
    expect((await loadSuite([dir], ["origin"])).map((l) => l.experiment.name)).toEqual(["b"]);
    await expect(loadSuite([dir], ["nope"])).rejects.toThrow(/no experiment carries the tag\(s\) nope/);

    write(
      "c.yaml",
      validExperimentYaml.replace("name: unit-test", "name: c").replace("latency: 150ms", "latency: soon"),
    );
    write(
      "d.yaml",
      validExperimentYaml.replace("name: unit-test", "name: d").replace("rate: 100/s", "rate: lots"),
    );
    const error = await loadSuite([dir]).catch((e: unknown) => e);
    expect(String(error)).toMatch(/c\.yaml:\d+:\d+ method\[0\]\.latency/);
    expect(String(error)).toMatch(/d\.yaml:\d+:\d+ load\.rate/);
  });

  it("refuse two experiments of the same name", async () => {
    const dir = tempDir("faultline-suite-");
    writeFileSync(join(dir, "one.yaml"), validExperimentYaml);
    writeFileSync(join(dir, "two.yaml"), validExperimentYaml);
    await expect(loadSuite([dir])).rejects.toThrow(/experiment name "unit-test" is also used by/);
  });
});
