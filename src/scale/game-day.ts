import type { ExitCodeValue } from "../errors.js";
import type { Readiness, SuiteRun } from "../run/suite.js";

// What crosses Temporal between the CLI, the workflow and the worker: plain data only. The
// workflow (src/scale/workflows.ts) imports these types and nothing else of Faultline's.

/** The Docker engine a worker owns, and the task queue it polls for it. */
export const taskQueueFor = (engine: string) => `faultline-engine-${engine}`;

/** One worker process's own queue: the activities of the game days it claimed. */
export const ownQueueOf = (engine: string, pid: number, host: string) =>
  `faultline-worker-${engine}-${pid}-${host}`;

/** A game day: `faultline run --temporal` of one or more experiment files. */
export interface GameDayInput {
  /** The workflow id, and what `faultline halt` and `faultline watch` take. */
  id: string;
  engine: string;
  taskQueue: string;
  /** Experiment files and folders, absolute: the worker reads them where the CLI found them. */
  paths: string[];
  tags: string[];
  runsDir: string;
  replica?: string | undefined;
  topology?: string | undefined;
  edges: number;
  recover: boolean;
  /** Command probes on the worker's host, allowed by the CLI's --allow-host-commands. */
  allowHostCommands?: boolean | undefined;
  seed?: number | undefined;
  keepReplica: boolean;
  gates: {
    failUnder?: number | undefined;
    baseline?: string | undefined;
    scoreTolerance: number;
    checkTolerance: number;
  };
  acceptDegraded: boolean;
  params: Record<string, string>;
  /** A SQLite file or PostgreSQL URL; none: no history. */
  history?: string | undefined;
}

/** One step of a run's timeline, handed to the workflow, at a wall-clock time. */
export interface TimelineStep {
  actionId: string;
  kind: "apply" | "revert";
  atEpochMs: number;
  description: string;
}

/** A run's inject phase, offered by the worker to the workflow's durable timers. */
export interface OfferedTimeline {
  runId: string;
  steps: TimelineStep[];
}

/** What the workflow hears back from an apply: applied, or why the run took it no more. */
export type ApplyOutcome = { applied: true; second: number } | { applied: false; reason: string };

/** One run of the game day, as the CLI renders it (the report itself is in runDir). */
export type GameDayRun = Omit<SuiteRun, "report">;

export interface GameDayOutcome {
  id: string;
  runs: GameDayRun[];
  exitCode: ExitCodeValue;
  /** A suite.yaml's go/no-go decision. */
  readiness?: Readiness | undefined;
  /** Set when the game day could not finish normally (its worker was lost, the suite failed). */
  error?: string | undefined;
}

/** The fault as the workflow saw it: for `faultline watch` and the status query. */
export interface FaultState {
  runId: string;
  actionId: string;
  description: string;
  state: "pending" | "applied" | "reverted" | "skipped";
}

export interface GameDayStatus {
  id: string;
  state: "running" | "halting" | "finished" | "worker-lost";
  engine: string;
  runs: string[];
  faults: FaultState[];
  halted: boolean;
  outcome?: GameDayOutcome | undefined;
}
