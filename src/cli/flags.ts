import { Args, Flags } from "@oclif/core";
import { parseDuration } from "../units.js";

// Flags that several commands share, declared once: what they are called, their type and
// their default. Each command says in its own words what the flag means to it.

/** `--replica NAME` of a command that acts on a replica that is up: `default` unless given. */
export const replicaFlag = (description = "replica name") =>
  Flags.string({ description, default: "default" });

/**
 * `--replica NAME` of a command where the replica comes from elsewhere unless given (an
 * experiment's `replica`, a topology file's name): no default.
 */
export const replicaOverrideFlag = (description: string) => Flags.string({ description });

/** `--topology FILE`: run or plan against the replica a topology file describes, whatever the experiment names. */
export const topologyFlag = () =>
  Flags.string({
    description:
      "a topology file to run against instead of each experiment's `replica` (e.g. examples/own-configs/topology.yaml)",
  });

/** `--runs-dir DIR`: where run folders (journals, reports) and history.db are. */
export const runsDirFlag = (description: string) => Flags.string({ description, default: "runs" });

/** `--history URL|FILE`: the run history, shared in PostgreSQL or a SQLite file of one's own. */
export const historyFlag = () =>
  Flags.string({
    description:
      "the run history: a PostgreSQL URL (postgres://USER@HOST:PORT/DB) that many machines share, or a SQLite file [default: <runs-dir>/history.db]",
    env: "FAULTLINE_HISTORY",
    helpValue: "URL|FILE",
  });

/**
 * A duration flag (`--for 30s`): its text and its value in milliseconds, parsed with
 * src/units.ts as experiment files are; `ms` is undefined for text that is not a duration.
 * The command refuses that (exit 2), together with its other bad input, naming the flag.
 */
export interface DurationFlagValue {
  text: string;
  ms: number | undefined;
}

export const durationFlag = Flags.custom<DurationFlagValue>({
  parse: async (text) => ({ text, ms: parseDuration(text) }),
});

/** The Temporal server of the scale-out engine (worker, halt, watch; FAULTLINE_TEMPORAL). */
export const temporalFlag = () =>
  Flags.string({
    description: "the Temporal server, HOST:PORT",
    env: "FAULTLINE_TEMPORAL",
    default: "127.0.0.1:7233",
    helpValue: "HOST:PORT",
  });

/** The Docker engine a worker owns, by name (its task queue is faultline-engine-NAME). */
/** The opt-in for command probes on this machine: a setting outside the experiment file. */
export const allowHostCommandsFlag = () =>
  Flags.boolean({
    description:
      "allow command probes that run on this machine (not in a replica service); env FAULTLINE_ALLOW_HOST_COMMANDS=1",
    env: "FAULTLINE_ALLOW_HOST_COMMANDS",
  });

/** The id of a game day on the scale-out engine, as `run --temporal` prints it. */
export const gameDayIdArg = () =>
  Args.string({ description: "the game day's id (`faultline run --temporal` prints it)", required: true });

export const engineFlag = (description: string) =>
  Flags.string({ description, env: "FAULTLINE_ENGINE", default: "local", helpValue: "NAME" });

/** The --baseline gate's tolerances when none are given (run, schedule create). */
export const DEFAULT_SCORE_TOLERANCE = 5;
export const DEFAULT_CHECK_TOLERANCE = "10%";
