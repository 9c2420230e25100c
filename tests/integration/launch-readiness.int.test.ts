import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { SuiteResult } from "../../src/run/suite.js";
import { runCli } from "../support/cli.js";
import { leftovers } from "../support/replica.js";
import { tempDir } from "../support/temp.js";

// The launch-readiness pack end to end on the real two-PoP launch replica: five experiments
// against the PoP under test (pop-new), one go/no-go decision with the scores. The replica is
// brought up by the suite from the pack's topology and taken down at the end.

describe("the launch-readiness pack", () => {
  it("runs as one suite on the multi-PoP replica and decides go or no-go, with every score", async () => {
    const dir = tempDir("faultline-launch-");
    const result = await runCli([
      "run",
      "experiments/launch-readiness",
      "--replica",
      "it-launch",
      "--runs-dir",
      join(dir, "runs"),
      "--no-history",
      "--junit",
      join(dir, "launch.xml"),
      "--json",
    ]);
    const suite = JSON.parse(result.stdout) as SuiteResult;
    const lines = suite.runs.map((run) => {
      const failover = run.evaluation?.timings.pops?.failovers[0];
      return `${run.experiment}: ${run.evaluation?.verdict} score ${run.evaluation?.score?.value}${failover ? ` (out of rotation after ${failover.detectMs} ms, fail-back ${failover.failBackMs} ms)` : ""}; gates ${run.gates.filter((g) => g.ok).length}/${run.gates.length}`;
    });
    console.log(
      `[launch-readiness] ${suite.readiness?.suite} ${suite.readiness?.release} (pop=${suite.readiness?.params.pop}): ${suite.readiness?.go ? "GO" : "NO-GO"}, exit ${result.code}\n  ${lines.join("\n  ")}${suite.readiness?.reasons.length ? `\n  no-go because: ${suite.readiness.reasons.join("; ")}` : ""}`,
    );
    expect(suite.readiness).toMatchObject({
      suite: "launch-readiness",
      release: "1.0.0",
      params: { pop: "pop-new" },
    });
    expect(suite.runs.map((r) => r.experiment)).toEqual([
      "launch-edge-loss",
      "launch-uplink-degradation",
      "launch-origin-loss",
      "launch-pop-loss",
      "launch-lb-loss-failback",
    ]);
    for (const run of suite.runs) {
      expect(run.evaluation?.score?.value).toBeGreaterThanOrEqual(0);
      // The report is recomputed from the journal, placeholders filled as they were for the run.
      expect(run.report?.verdict.verdict).toBe(run.evaluation?.verdict);
      expect(run.report?.score?.value).toBe(run.evaluation?.score?.value);
      // Every run reports the go criteria as gates (verdict and score, plus the PoP timings).
      expect(run.gates.map((g) => g.name)).toEqual(expect.arrayContaining(["go: verdict", "go: score"]));
    }
    // The whole-PoP losses report their failover and fail-back, as go criteria too.
    for (const name of ["launch-pop-loss", "launch-lb-loss-failback"]) {
      const run = suite.runs.find((r) => r.experiment === name);
      expect(run?.gates.map((g) => g.name)).toEqual(
        expect.arrayContaining(["go: pop-new out of rotation", "go: pop-new fail-back"]),
      );
    }
    // A healthy replica is a go: the decision and the exit code agree.
    expect(suite.readiness?.go).toBe(true);
    expect(result.code).toBe(0);
    expect(await leftovers("it-launch")).toEqual({ containers: [], networks: [] });
    // Five experiments of about a minute each, and the replica up and down.
  }, 600_000);
});
