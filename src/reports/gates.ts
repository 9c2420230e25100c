import type { SuiteFile } from "../experiments/suite-file.js";
import { formatDuration } from "../units.js";
import type { GateResult } from "./junit.js";
import type { RunReport } from "./model.js";

// CI gates on a run's report: a minimum score, and no regression against a baseline run
// (the score, and each check's share of windows held under fault and after recovery).

export interface GateOptions {
  /** Fail when the score is below this (0-100); a run without a score fails it. */
  failUnder?: number | undefined;
  /** The report of the run to compare with. */
  baseline?: RunReport | undefined;
  /** Points of score a run may lose against the baseline (default 5). */
  scoreTolerance?: number | undefined;
  /** Share of windows (0-1) a check may lose against the baseline, per phase (default 0.1). */
  checkTolerance?: number | undefined;
}

type Check = RunReport["checks"][number];

/** Share of windows with data in which the check held; undefined when the phase has no data. */
function heldShare(check: Check, phase: "inject" | "verify"): number | undefined {
  const s = check.phases[phase];
  if (!s) return undefined;
  const withData = s.windows - s.noData;
  return withData > 0 ? s.held / withData : undefined;
}

const pct = (share: number) => `${Math.round(share * 1000) / 10}%`;

export function evaluateGates(report: RunReport, options: GateOptions): GateResult[] {
  const gates: GateResult[] = [];
  const score = report.score?.value;
  if (options.failUnder !== undefined) {
    gates.push({
      name: `score at least ${options.failUnder}`,
      ok: score !== undefined && score >= options.failUnder,
      message:
        score === undefined
          ? `no score: the run was ${report.verdict.verdict}`
          : `score ${score} ${score >= options.failUnder ? "≥" : "<"} ${options.failUnder}`,
    });
  }
  const baseline = options.baseline;
  if (baseline) {
    const against = `against ${baseline.run.id}`;
    const tolerance = options.scoreTolerance ?? 5;
    const before = baseline.score?.value;
    if (before !== undefined) {
      gates.push({
        name: `score not regressed ${against}`,
        ok: score !== undefined && score >= before - tolerance,
        message:
          score === undefined
            ? `no score now (${report.verdict.verdict}); the baseline scored ${before}`
            : `score ${score} vs ${before} (${score - before >= 0 ? "+" : ""}${Math.round((score - before) * 10) / 10}; tolerance ${tolerance} points)`,
      });
    }
    const shareTolerance = options.checkTolerance ?? 0.1;
    for (const check of report.checks) {
      const old = baseline.checks.find((c) => c.name === check.name);
      if (!old) continue;
      const problems: string[] = [];
      const notes: string[] = [];
      for (const phase of ["inject", "verify"] as const) {
        const now = heldShare(check, phase);
        const then = heldShare(old, phase);
        if (then === undefined) continue;
        if (now === undefined) {
          problems.push(`${phase}: no data now, held ${pct(then)} of windows before`);
        } else if (now < then - shareTolerance) {
          problems.push(`${phase}: held ${pct(now)} of windows, ${pct(then)} before`);
        } else {
          notes.push(`${phase}: held ${pct(now)} (${pct(then)} before)`);
        }
      }
      if (problems.length === 0 && notes.length === 0) continue;
      gates.push({
        name: `check "${check.name}" not regressed ${against}`,
        ok: problems.length === 0,
        message: `${(problems.length ? problems : notes).join("; ")}; tolerance ${pct(shareTolerance)} of windows`,
      });
    }
  }
  return gates;
}

/** The go criteria as gates on one run: what must hold for the suite to be a go. */
export function goGates(suite: SuiteFile, report: RunReport): GateResult[] {
  const { go } = suite;
  const gates: GateResult[] = [];
  const verdict = report.verdict.verdict;
  const verdictOk = verdict === "passed" || (go.acceptDegraded && verdict === "degraded");
  gates.push({
    name: "go: verdict",
    ok: verdictOk,
    message: `${verdict}${verdictOk ? "" : `; a go needs passed${go.acceptDegraded ? " or degraded" : ""}`}`,
  });
  const score = report.score?.value;
  gates.push({
    name: "go: score",
    ok: score !== undefined && score >= go.minScore,
    message: `${score ?? "none"} (at least ${go.minScore})`,
  });
  for (const failover of report.timings.pops?.failovers ?? []) {
    if (go.maxDetect !== undefined) {
      const ms = failover.detectMs;
      gates.push({
        name: `go: ${failover.pop} out of rotation`,
        ok: ms !== null && ms <= go.maxDetect,
        message: `${ms === null ? "never" : formatDuration(ms)} (at most ${formatDuration(go.maxDetect)})`,
      });
    }
    if (go.maxFailBack !== undefined && failover.failBackApplies !== false) {
      const ms = failover.failBackMs;
      gates.push({
        name: `go: ${failover.pop} fail-back`,
        ok: ms !== null && ms <= go.maxFailBack,
        message: `${ms === null ? "never" : formatDuration(ms)} (at most ${formatDuration(go.maxFailBack)})`,
      });
    }
  }
  return gates;
}
