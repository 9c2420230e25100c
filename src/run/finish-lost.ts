import { dirname } from "node:path";
import { errorMessage } from "../errors.js";
import { openHistory } from "../history/open.js";
import { Journal, type JournalEvent, readJournal } from "../journal/journal.js";
import { writeRunReports } from "../reports/index.js";
import { buildReport, experimentOf } from "../reports/model.js";
import { evaluateRun, type RunEvaluation } from "../verdict/evaluation.js";
import { verdictEvent } from "./verdict-phase.js";

// A run whose process died (a worker killed mid-run) stops its journal wherever it was. Once
// someone can read that journal again (the worker, back), the run is closed: why it ended is
// journaled as an error, then the verdict that fits what was recorded (errored, exit 4), the
// reports and the history row, exactly as a run that ended on an error writes them.

export interface FinishedRun {
  experiment: string;
  file: string;
  runDir: string;
  journalPath: string;
  evaluation: RunEvaluation;
  reports?: Record<string, string>;
  /** Why the reports or the history row could not be written (the verdict stands). */
  error?: string;
}

export async function finishLostRun(options: {
  journalPath: string;
  reason: string;
  history?: string | undefined;
}): Promise<FinishedRun> {
  const { journalPath, reason } = options;
  const events: JournalEvent[] = readJournal(journalPath);
  const experiment = experimentOf(events);
  const journal = new Journal(journalPath);
  const done = events.some((e) => e.type === "verdict");
  if (!done) events.push(journal.write({ type: "error", message: reason }));
  const evaluation = evaluateRun(events, experiment.steadyState.checks, experiment.score.weights);
  if (!done) {
    events.push(journal.write(verdictEvent(evaluation)));

    events.push(journal.write({ type: "run-finished", durationMs: durationOf(events) }));
  }
  const started = events.find((e) => e.type === "run-started");
  const names = {
    experiment: experiment.name,
    file: started?.type === "run-started" ? started.experiment.file : "",
    runDir: dirname(journalPath),
  };
  const { runDir } = names;
  try {
    const report = buildReport(events, evaluation);
    const reports = writeRunReports(runDir, report);
    if (options.history && !done) {
      const history = await openHistory(options.history);
      try {
        await history.record(report, runDir, [], evaluation.exitCode);
      } finally {
        await history.close();
      }
    }
    return { ...names, journalPath, evaluation, reports };
  } catch (error) {
    return { ...names, journalPath, evaluation, error: errorMessage(error) };
  }
}

const durationOf = (events: readonly JournalEvent[]) =>
  Math.max(0, Date.parse(events[events.length - 1]?.at ?? "") - Date.parse(events[0]?.at ?? ""));
