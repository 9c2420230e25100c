import type { ExitCodeValue } from "../errors.js";
import type { Experiment } from "../experiments/schema.js";
import type { Journal, JournalEvent } from "../journal/journal.js";
import type { Replica } from "../replica/replica.js";
import type { ReportFormat } from "../reports/index.js";
import type { GateResult } from "../reports/junit.js";
import type { RunReport } from "../reports/model.js";
import type { RunEvaluation } from "../verdict/evaluation.js";
import type { FaultSession } from "./fault-session.js";
import type { RunLoop } from "./run-loop.js";
import type { Plan } from "./run-plan.js";

/** What every phase of a run works with. */
export interface RunContext {
  runId: string;
  runDir: string;
  experiment: Experiment;
  replica: Replica;
  plan: Plan;
  journal: Journal;
  /** Every event of the run so far, in order (the journal's own listener keeps it). */
  events: JournalEvent[];
  loop: RunLoop;
  session: FaultSession;
  signal: AbortSignal;
}

/** The gates a caller evaluated on a run's report, and the exit code it gives the run. */
export interface RunJudgement {
  gates: GateResult[];
  exitCode: ExitCodeValue;
}

/** What a caller's gates are judged on, once the verdict is in. */
export interface JudgeInput {
  runId: string;
  evaluation: RunEvaluation;
  /** Undefined when it could not be built (then reportError says why). */
  report: RunReport | undefined;
  reportError: string | undefined;
}

export interface RunResult {
  runId: string;
  runDir: string;
  journalPath: string;
  evaluation: RunEvaluation;
  /** The reports written next to the journal, by format; undefined when writing them failed. */
  reports: Record<ReportFormat, string> | undefined;
  /** The report model, computed from the run's events; undefined when that failed. */
  report: RunReport | undefined;
  /** Why the reports could not be written (the run itself is unaffected). */
  reportError?: string;
  /** The gates the caller's judge evaluated (none without a judge). */
  gates: GateResult[];
  /** The run's exit code: the judge's, or the verdict's. */
  exitCode: ExitCodeValue;
}
