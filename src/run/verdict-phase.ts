import { errorMessage } from "../errors.js";
import { type ReportFormat, writeRunReports } from "../reports/index.js";
import type { RenderContext } from "../reports/junit.js";
import { buildReport, type RunReport } from "../reports/model.js";
import { evaluateRun, type RunEvaluation } from "../verdict/evaluation.js";
import type { JudgeInput, RunContext, RunJudgement, RunResult } from "./run-context.js";

/**
 * The run's last phase: the journal is evaluated once, the verdict and run-finished are
 * journaled, the report is built from that same evaluation, the caller's gates are judged
 * on it (and journaled), and the reports are written once, with the gates. Reports are
 * renderings of the journal: failing to build or write them never changes the verdict.
 */
export function verdict(run: RunContext, judge?: (input: JudgeInput) => RunJudgement): RunResult {
  const { experiment, journal, events, runId, runDir } = run;
  const evaluation = evaluateRun(events, experiment.steadyState.checks, experiment.score.weights);
  journal.write(verdictEvent(evaluation));
  journal.write({ type: "run-finished", durationMs: run.loop.elapsedMs() });

  let report: RunReport | undefined;
  let reportError: string | undefined;
  try {
    report = buildReport(events, evaluation);
  } catch (error) {
    reportError = errorMessage(error);
  }
  let judged: RunJudgement | undefined;
  let written: { reports?: Record<ReportFormat, string>; error?: string } = {};
  try {
    judged = judge?.({ runId, evaluation, report, reportError });
    if (judged) journalGates(run, judged, evaluation);
  } finally {
    // Written once the gates are known; without them too when judging them failed.
    if (report) written = writeReports(runDir, report, renderContext(judged, evaluation));
  }
  reportError ??= written.error;
  return {
    runId,
    runDir,
    journalPath: journal.path,
    evaluation,
    report,
    reports: written.reports,
    ...(reportError === undefined ? {} : { reportError }),
    gates: judged?.gates ?? [],
    exitCode: judged?.exitCode ?? evaluation.exitCode,
  };
}

/** The journal's verdict event for an evaluation. */
export function verdictEvent(evaluation: RunEvaluation) {
  return {
    type: "verdict" as const,
    verdict: evaluation.verdict,
    reason: evaluation.reason,
    exitCode: evaluation.exitCode,
    ...(evaluation.score ? { score: evaluation.score.value } : {}),
  };
}

/** The gates and the exit code the reports show: only when there are gates or the code is not the verdict's. */
function renderContext(judged: RunJudgement | undefined, evaluation: RunEvaluation): RenderContext {
  if (!judged || (judged.gates.length === 0 && judged.exitCode === evaluation.exitCode)) return {};
  return { gates: judged.gates, exitCode: judged.exitCode };
}

/** The gates event, so that `faultline report` renders the run as it was reported. */
function journalGates(run: RunContext, judged: RunJudgement, evaluation: RunEvaluation): void {
  const context = renderContext(judged, evaluation);
  if (context.gates === undefined) return;
  run.journal.write({
    type: "gates",
    gates: context.gates.map(({ name, ok, message }) => ({ name, ok, message })),
    exitCode: judged.exitCode,
  });
}

function writeReports(
  runDir: string,
  report: RunReport,
  context: RenderContext,
): { reports?: Record<ReportFormat, string>; error?: string } {
  try {
    return { reports: writeRunReports(runDir, report, context) };
  } catch (error) {
    return { error: errorMessage(error) };
  }
}
