import type { ExitCodeValue } from "../errors.js";
import type { GateResult } from "../reports/junit.js";
import type { Readiness } from "../run/suite.js";
import type { RunEvaluation } from "../verdict/evaluation.js";
import { renderEvaluation } from "./render.js";

/** A run as `run` (in process) and `watch` (from Temporal) both have it. */
export interface RenderedRun {
  experiment: string;
  journalPath?: string | undefined;
  evaluation?: RunEvaluation | undefined;
  reports?: Record<string, string> | undefined;
  gates: GateResult[];
  exitCode: ExitCodeValue;
  seed?: number | undefined;
  error?: string | undefined;
}

export interface RenderedSuite {
  runs: RenderedRun[];
  exitCode: ExitCodeValue;
  readiness?: Readiness | undefined;
}

/** One run's verdict, reports and gates, as `run` and `watch` print them. */
export function renderRun(run: RenderedRun): string {
  if (!run.evaluation || !run.journalPath)
    return `${run.experiment}: ${run.error ?? "not run"} (exit ${run.exitCode})`;
  const lines = [renderEvaluation(run.evaluation, run.journalPath)];
  if (run.seed !== undefined) lines.push(`seed: ${run.seed} (--seed ${run.seed} replays the target choices)`);
  if (run.reports) lines.push(`reports: ${Object.values(run.reports).join(", ")}`);
  for (const gate of run.gates)
    lines.push(`gate ${gate.ok ? "passed" : "FAILED"}: ${gate.name}: ${gate.message}`);
  if (run.gates.length || run.exitCode !== run.evaluation.exitCode) lines.push(`exit ${run.exitCode}`);
  return lines.join("\n");
}

/** The suite's one-line-per-run summary (and a suite.yaml's GO / NO-GO). */
export function renderSummary(result: RenderedSuite): string {
  const width = Math.max(10, ...result.runs.map((r) => r.experiment.length)) + 2;
  const { readiness } = result;
  const lines = readiness
    ? [
        `${readiness.suite} ${readiness.release}${
          Object.keys(readiness.params).length
            ? ` (${Object.entries(readiness.params)
                .map(([k, v]) => `${k}=${v}`)
                .join(", ")})`
            : ""
        }: ${readiness.go ? "GO" : "NO-GO"}, ${result.runs.length} experiment(s), exit ${result.exitCode}`,
      ]
    : [`suite: ${result.runs.length} experiment(s), exit ${result.exitCode}`];
  for (const run of result.runs) {
    const verdict = run.evaluation?.verdict ?? "not run";
    const score = run.evaluation?.score ? `${run.evaluation.score.value}`.padStart(5) : "    -";
    const failedGates = run.gates.filter((g) => !g.ok).length;
    lines.push(
      `  ${run.experiment.padEnd(width)}${verdict.padEnd(13)} score ${score}  ${run.gates.length ? `gates ${run.gates.length - failedGates}/${run.gates.length}` : ""}  exit ${run.exitCode}`,
    );
  }
  if (readiness && !readiness.go) {
    lines.push("no-go because:");
    for (const reason of readiness.reasons) lines.push(`  - ${reason}`);
    if (readiness.reasons.length === 0) lines.push(`  - the suite exited ${result.exitCode}`);
  }
  return lines.join("\n");
}
