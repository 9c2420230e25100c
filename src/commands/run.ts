import { appendFileSync, writeFileSync } from "node:fs";
import { Args, Flags, type Interfaces } from "@oclif/core";
import { BaseCommand } from "../cli/base-command.js";
import {
  allowHostCommandsFlag,
  DEFAULT_CHECK_TOLERANCE,
  DEFAULT_SCORE_TOLERANCE,
  historyFlag,
  replicaOverrideFlag,
  runsDirFlag,
  topologyFlag,
} from "../cli/flags.js";
import { liveProgress, plainProgress } from "../cli/live.js";
import { parseParamFlags } from "../cli/params.js";
import { abortOnSignals } from "../cli/signals.js";
import { renderRun, renderSummary } from "../cli/suite-render.js";
import { InvalidInputError } from "../errors.js";
import { historyLocation } from "../history/open.js";
import { renderJunit } from "../reports/junit.js";
import { renderMarkdown } from "../reports/markdown.js";
import { runSuite, type SuiteResult } from "../run/suite.js";
import type { GameDayOutcome } from "../scale/game-day.js";
import { parsePercent } from "../units.js";

export default class Run extends BaseCommand {
  static override description =
    `Run experiments: baseline, inject, recover, verify; print the verdict and the score

Give one experiment file, several, or a folder (its *.yaml files, in name order); --tag keeps
the experiments carrying a tag. Brings each experiment's replica up when it is not running (and
takes it down at the end, unless --keep-replica). Every fault is reverted at the end of its
\`for\`, on any error, and on Ctrl-C / SIGTERM. Each run writes <runs-dir>/<run-id>/ with its
journal and its reports (report.json, junit.xml, report.md, report.html).

CI gates: --fail-under fails a run scoring below a minimum; --baseline fails a run whose score,
or any check's share of windows held under fault or after recovery, regressed beyond the
tolerances. --junit and --markdown write all runs' results for the CI system.

Exit codes (a suite exits with the most severe of its runs, in this order): 130 interrupted,
2 invalid input, 4 environment or tool error, 1 failed, 6 aborted, 7 a gate failed,
3 inconclusive, 5 degraded (0 with --accept-degraded), 0 passed.

A folder with a suite.yaml (e.g. experiments/launch-readiness) is a versioned suite: its params
fill the experiments' \${name} placeholders (--param overrides them), and its go criteria
become gates on every run; the summary ends with GO or NO-GO (exit 0, or the most severe).`;
  static override examples = [
    "<%= config.bin %> run experiments/edge-latency.yaml",
    '<%= config.bin %> run experiments/ --tag failover --junit junit.xml --markdown "$GITHUB_STEP_SUMMARY"',
    "<%= config.bin %> run experiments/edge-node-failover.yaml --fail-under 80 --baseline runs/20261128-140202-edge-node-failover-67c6",
    "<%= config.bin %> run experiments/edge-latency.yaml --json > result.json",
    "<%= config.bin %> run experiments/launch-readiness --param pop=pop-b --junit launch.xml",
  ];
  static override enableJsonFlag = true;
  static override strict = false;
  static override args = {
    files: Args.string({ description: "experiment YAML file(s) or folder(s)", required: true }),
  };
  static override flags = {
    "runs-dir": runsDirFlag("where run folders (journals, reports) are written"),
    replica: replicaOverrideFlag("replica to run against (overrides each experiment's `replica`)"),
    topology: topologyFlag(),
    edges: Flags.integer({
      description: "edge count when a replica has to be brought up",
      default: 3,
      min: 1,
    }),
    recover: Flags.boolean({ description: "revert what crashed runs left on the replica before starting" }),
    seed: Flags.integer({
      description: "seed for random target choices (pick/percent); printed by every run",
      min: 0,
    }),
    "keep-replica": Flags.boolean({
      description: "leave a replica this command brought up running afterwards",
    }),
    tag: Flags.string({ description: "run only experiments with this tag (repeatable)", multiple: true }),
    "fail-under": Flags.integer({
      description: "gate: fail a run whose score is below this (0-100)",
      min: 0,
      max: 100,
    }),
    baseline: Flags.string({
      description:
        "gate: compare with this run (id, folder, journal, report.json, or `latest` from the history); fail on regression",
    }),
    "score-tolerance": Flags.integer({
      description: "points of score a run may lose against --baseline",
      default: DEFAULT_SCORE_TOLERANCE,
      min: 0,
      max: 100,
    }),
    "check-tolerance": Flags.string({
      description: "share of windows a check may lose against --baseline, per phase",
      default: DEFAULT_CHECK_TOLERANCE,
    }),
    history: historyFlag(),
    "no-history": Flags.boolean({ description: "do not record the run(s) in the history" }),
    "allow-host-commands": allowHostCommandsFlag(),
    "accept-degraded": Flags.boolean({
      description: "exit 0, not 5, for a degraded run (let the gates decide)",
    }),
    junit: Flags.string({
      description: "write a JUnit XML file of all runs (a test case per check and gate)",
    }),
    progress: Flags.string({
      description:
        "live: a view redrawn in place; plain: a line per event (CI logs); auto: live in a terminal",
      options: ["auto", "live", "plain"],
      default: "auto",
    }),
    param: Flags.string({
      description:
        "a value for one of the experiments' params (their placeholders), as name=value (repeatable)",
      multiple: true,
    }),
    markdown: Flags.string({
      description: "append a Markdown summary of all runs to this file (e.g. $GITHUB_STEP_SUMMARY)",
    }),
    temporal: Flags.string({
      description:
        "run as a durable game day on this Temporal server (a `faultline worker` runs it); Ctrl-C halts it, SIGTERM detaches",
      helpValue: "HOST:PORT",
    }),
    engine: Flags.string({
      description: "with --temporal: the Docker engine whose worker runs the game day",
      default: "local",
      helpValue: "NAME",
    }),
  };

  async run(): Promise<SuiteResult | GameDayOutcome | { id: string; detached: true }> {
    const { argv, flags } = await this.parse(Run);
    const paths = argv.filter((a): a is string => typeof a === "string");
    const checkTolerance = parsePercent(flags["check-tolerance"]);
    if (checkTolerance === undefined || checkTolerance > 1) {
      throw new InvalidInputError(
        `--check-tolerance: expected a percentage such as "10%", got "${flags["check-tolerance"]}"`,
      );
    }
    const params = parseParamFlags(flags.param);
    if (!flags.temporal) refuseTemporalOnly(flags.engine);
    else refuseNotYetOnTemporal(flags);
    if (flags.temporal) return this.onTemporal(flags.temporal, paths, flags, checkTolerance, params);
    const live =
      !this.jsonEnabled() &&
      (flags.progress === "live" || (flags.progress === "auto" && process.stderr.isTTY === true));
    const view = live ? liveProgress(process.stderr) : plainProgress((line) => this.progress(line));
    const signals = abortOnSignals((signal) =>
      view.message(`\n${signal}: stopping and reverting every fault…`),
    );
    try {
      const result = await runSuite({
        ...settingsOf(paths, flags, checkTolerance, params),
        signal: signals.signal,
        onProgress: (m) => view.message(m),
        onRunStart: (loaded, seconds) => view.startRun(loaded.experiment.name, seconds),
        onEvent: (event) => view.event(event),
      });
      view.stop();
      const reported = result.runs.flatMap((r) =>
        r.report ? [{ report: r.report, gates: r.gates, exitCode: r.exitCode }] : [],
      );
      if (flags.junit) writeFileSync(flags.junit, renderJunit(reported));
      if (flags.markdown)
        appendFileSync(flags.markdown, reported.map((r) => renderMarkdown(r.report, r)).join("\n"));
      if (!this.jsonEnabled()) {
        for (const run of result.runs) this.log(`\n${renderRun(run)}`);
        if (result.runs.length > 1 || result.readiness) this.log(`\n${renderSummary(result)}`);
      }
      process.exitCode = result.exitCode;
      return result;
    } finally {
      view.stop();
      signals.dispose();
    }
  }

  /** `--temporal`: the suite as a durable game day (src/cli/temporal-run.ts). */
  private async onTemporal(
    address: string,
    paths: string[],
    flags: Interfaces.InferredFlags<typeof Run.flags>,
    checkTolerance: number,
    params: Record<string, string>,
  ) {
    // Loaded only here: a run in process never loads Temporal's SDK.
    const { runOnTemporal } = await import("../cli/temporal-run.js");
    return runOnTemporal(
      { log: (m) => this.log(m), progress: (m) => this.progress(m), jsonEnabled: () => this.jsonEnabled() },
      {
        address,
        engine: flags.engine,
        ...settingsOf(paths, flags, checkTolerance, params),
      },
    );
  }
}

/** What a run is asked for, the same in process and on Temporal. */
function settingsOf(
  paths: string[],
  flags: Interfaces.InferredFlags<typeof Run.flags>,
  checkTolerance: number,
  params: Record<string, string>,
) {
  return {
    paths,
    tags: flags.tag ?? [],
    runsDir: flags["runs-dir"],
    replica: flags.replica,
    topology: flags.topology,
    edges: flags.edges,
    recover: flags.recover,
    seed: flags.seed,
    keepReplica: flags["keep-replica"],
    gates: {
      failUnder: flags["fail-under"],
      baseline: flags.baseline,
      scoreTolerance: flags["score-tolerance"],
      checkTolerance,
    },
    acceptDegraded: flags["accept-degraded"],
    allowHostCommands: flags["allow-host-commands"],
    params,
    history: flags["no-history"] ? undefined : historyLocation(flags.history, flags["runs-dir"]),
  };
}

/** --engine picks a worker: without --temporal there is none to pick. */
function refuseTemporalOnly(engine: string): void {
  if (engine !== "local")
    throw new InvalidInputError("--engine names the worker of a game day: it needs --temporal", {
      suggestion: `add --temporal HOST:PORT, or drop --engine ${engine}`,
    });
}

/** What a game day cannot do yet: the CI files need the reports, which stay on the worker. */
function refuseNotYetOnTemporal(flags: { junit?: string | undefined; markdown?: string | undefined }): void {
  const given = [flags.junit ? "--junit" : "", flags.markdown ? "--markdown" : ""].filter(Boolean);
  if (given.length)
    throw new InvalidInputError(`${given.join(" and ")}: not with --temporal yet`, {
      suggestion: "the run folder's junit.xml and report.md are written on the worker's host; use those",
    });
}
