import { mkdirSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { gameDayInput } from "../../src/cli/temporal-run.js";
import { InvalidInputError } from "../../src/errors.js";
import { scheduleSpec } from "../../src/scale/schedules.js";
import { tempDir } from "../support/temp.js";

// What the CLI hands a worker that may run elsewhere in its cwd: every path made absolute, a
// shared history's URL and a run id as they are; and a schedule's spec, checked first.

const settings = (overrides: { history?: string; baseline?: string } = {}) => ({
  engine: "local",
  paths: ["experiments/edge-latency.yaml"],
  tags: [],
  runsDir: "runs",
  edges: 3,
  recover: false,
  keepReplica: false,
  gates: { scoreTolerance: 5, checkTolerance: 0.1, baseline: overrides.baseline },
  history: overrides.history,
  params: {},
  acceptDegraded: false,
});

describe("gameDayInput", () => {
  it("makes the paths absolute, names the engine's queue, keeps a PostgreSQL URL as it is", () => {
    const input = gameDayInput(settings({ history: "postgres://fl@db.example:5432/runs" }), "gd-1", "edge-2");
    expect(input.paths).toEqual([resolve("experiments/edge-latency.yaml")]);
    expect(input.runsDir).toBe(resolve("runs"));
    expect(input.taskQueue).toBe("faultline-engine-edge-2");
    expect(input.history).toBe("postgres://fl@db.example:5432/runs");
    expect(gameDayInput(settings({ history: "runs/history.db" }), "gd-1", "local").history).toBe(
      resolve("runs/history.db"),
    );
  });

  it("resolves a baseline given as a path; a run id or `latest` goes as it is", () => {
    const dir = tempDir("faultline-baseline-");
    mkdirSync(join(dir, "run-1"));
    const given = relative(process.cwd(), join(dir, "run-1"));
    expect(isAbsolute(given)).toBe(false);
    expect(gameDayInput(settings({ baseline: given }), "gd", "local").gates.baseline).toBe(
      join(dir, "run-1"),
    );
    expect(gameDayInput(settings({ baseline: "latest" }), "gd", "local").gates.baseline).toBe("latest");
    expect(gameDayInput(settings({ baseline: "20261204-0101-x-ab12" }), "gd", "local").gates.baseline).toBe(
      "20261204-0101-x-ab12",
    );
  });
});

describe("scheduleSpec", () => {
  it("takes exactly one of --cron and --every, and an interval of at least 5 s", () => {
    expect(scheduleSpec({ cron: "0 3 * * 1" })).toEqual({ cronExpressions: ["0 3 * * 1"] });
    expect(scheduleSpec({ everyMs: 6 * 3600_000 })).toEqual({ intervals: [{ every: 6 * 3600_000 }] });
    expect(() => scheduleSpec({})).toThrow(InvalidInputError);
    expect(() => scheduleSpec({ cron: "0 3 * * 1", everyMs: 60_000 })).toThrow(
      /exactly one of --cron and --every/,
    );
    expect(() => scheduleSpec({ everyMs: 1000 })).toThrow(/--every: at least 5s, got 1s/);
  });
});
