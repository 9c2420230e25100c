import { readFileSync } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import {
  EnvironmentError,
  ExitCode,
  type ExitCodeValue,
  errorMessage,
  FaultlineError,
  InvalidInputError,
  ValidationError,
} from "../errors.js";
import { type LoadedExperiment, type LoadOptions, loadExperiment } from "../experiments/loader.js";
import { planFaults } from "../experiments/plan.js";
import { experimentFilesIn, loadSuiteFile, SUITE_FILE, type SuiteFile } from "../experiments/suite-file.js";
import { newSeed } from "../experiments/targets.js";
import { openHistory } from "../history/open.js";
import type { HistoryStore } from "../history/store.js";
import type { JournalEvent } from "../journal/journal.js";
import { readLedger } from "../lifecycle/ledger.js";
import { assertNotLocked } from "../lifecycle/lock.js";
import { recoverReplica } from "../recovery/recover.js";
import { type AttachSettings, attachName, describeStack, writeAttachRecord } from "../replica/attach.js";
import { attachStack, connectReplica, type Replica, replicaDown, replicaUp } from "../replica/replica.js";
import { judgedEdges, type Topology } from "../replica/topology.js";
import { replicaFor } from "../replica/topology-file.js";
import { evaluateGates, type GateOptions, goGates } from "../reports/gates.js";
import { loadReport, type ReportFormat } from "../reports/index.js";
import type { GateResult } from "../reports/junit.js";
import { type RunReport, runReportSchema } from "../reports/model.js";
import { formatDuration } from "../units.js";
import type { RunEvaluation } from "../verdict/evaluation.js";
import type { Timeline } from "./phases.js";
import type { ResolvedPlan } from "./preflight.js";
import {
  type JudgeInput,
  plannedSeconds,
  planOf,
  type RunJudgement,
  type RunResult,
  runExperiment,
} from "./runner.js";

// One or many experiments, run in order, with CI gates and one summary. `faultline run` is a
// thin shell around runSuite; a single file is a suite of one.

export interface SuiteOptions {
  /** Experiment files and folders (a folder contributes its *.yaml and *.yml, sorted). */
  paths: string[];
  /** Keep only experiments carrying at least one of these tags (none: keep all). */
  tags?: string[];
  runsDir: string;
  /** Overrides every experiment's `replica`. */
  replica?: string | undefined;
  /** A topology file every experiment runs against instead of its own `replica` (--topology). */
  topology?: string | undefined;
  edges: number;
  recover?: boolean;
  seed?: number | undefined;
  keepReplica?: boolean;
  gates?: Omit<GateOptions, "baseline"> & {
    /**
     * A run id, run folder, journal, or report.json to compare with; `latest`: the newest
     * scored run of the same experiment in the history.
     */
    baseline?: string | undefined;
  };
  /**
   * The run history to record every run in (and to find `--baseline latest`): a SQLite file or
   * a PostgreSQL URL (src/history/open.ts). Opened before anything starts.
   */
  history?: string | undefined;
  /** Count a degraded verdict as success for the exit code (the gates decide). */
  acceptDegraded?: boolean;
  /** Command probes on this machine, allowed from outside the files (src/experiments/loader.ts). */
  allowHostCommands?: boolean | undefined;
  /** Values for the experiments' `${name}` parameters (over a suite.yaml's and their own). */
  params?: Readonly<Record<string, string>>;
  signal: AbortSignal;
  onProgress?: (message: string) => void;
  onEvent?: (event: JournalEvent, experiment: LoadedExperiment) => void;
  /** Called when an experiment's run is about to start (its replica is up). */
  onRunStart?: (experiment: LoadedExperiment, plannedSeconds: number) => void;
  /** Who applies each run's faults on its timeline (a Temporal workflow, src/scale/); default this process. */
  timeline?: Timeline;
}

export interface SuiteRun {
  file: string;
  experiment: string;
  runId?: string;
  runDir?: string;
  journalPath?: string;
  report?: RunReport;
  evaluation?: RunEvaluation;
  /** Report files in the run folder, by format. */
  reports?: Record<ReportFormat, string>;
  gates: GateResult[];
  exitCode: ExitCodeValue;
  /** The seed of the run's random target choices: `--seed` with it replays them. */
  seed?: number;
  /** Set when the run could not be carried out (the environment broke, the replica would not come up). */
  error?: string;
}

/** The go/no-go decision of a suite with a suite.yaml. */
export interface Readiness {
  suite: string;
  release: string;
  params: Record<string, string>;
  go: boolean;
  /** Why not, one line per failed criterion (empty for a go). */
  reasons: string[];
}

export interface SuiteResult {
  runs: SuiteRun[];
  exitCode: ExitCodeValue;
  readiness?: Readiness;
}

/** Most severe first: a suite exits with the first of these that any of its runs has. */
export const exitSeverity: readonly ExitCodeValue[] = [
  ExitCode.interrupted,
  ExitCode.invalidInput,
  ExitCode.environment,
  ExitCode.failed,
  ExitCode.aborted,
  ExitCode.gateFailed,
  ExitCode.inconclusive,
  ExitCode.degraded,
  ExitCode.passed,
];

export function mostSevere(codes: readonly ExitCodeValue[]): ExitCodeValue {
  return exitSeverity.find((code) => codes.includes(code)) ?? ExitCode.passed;
}

/** Expands folders, loads every file (all errors at once), and filters by tag. */
export async function loadSuite(
  paths: readonly string[],
  tags: readonly string[] = [],
  params: Readonly<Record<string, string>> = {},
  topology?: string,
  options: Pick<LoadOptions, "allowHostCommands"> = {},
): Promise<LoadedExperiment[]> {
  const files: string[] = [];
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (info?.isDirectory()) {
      const entries = (await experimentFilesIn(path)).files;
      if (entries.length === 0)
        throw new InvalidInputError(`${path}: no experiment files (*.yaml, *.yml) in this folder`);
      files.push(...entries);
    } else {
      files.push(path);
    }
  }
  const loaded: LoadedExperiment[] = [];
  const problems: FaultlineError[] = [];
  for (const file of files) {
    try {
      loaded.push(await loadExperiment(file, { params, topology, ...options }));
    } catch (error) {
      if (error instanceof FaultlineError) problems.push(error);
      else throw error;
    }
  }
  if (problems.length === 1) throw problems[0];
  if (problems.length > 1) {
    const issues = problems.flatMap((p) => (p instanceof ValidationError ? p.issues : []));
    if (issues.length) throw new ValidationError(issues);
    throw new InvalidInputError(problems.map((p) => p.message).join("\n"));
  }
  const names = new Map<string, string>();
  for (const { experiment, file } of loaded) {
    const other = names.get(experiment.name);
    if (other)
      throw new InvalidInputError(`${file}: experiment name "${experiment.name}" is also used by ${other}`, {
        suggestion: "give every experiment of a suite its own name: history and reports key on it",
      });
    names.set(experiment.name, file);
  }
  const chosen = tags.length ? loaded.filter((l) => l.experiment.tags.some((t) => tags.includes(t))) : loaded;
  if (chosen.length === 0)
    throw new InvalidInputError(`no experiment carries the tag(s) ${tags.join(", ")}`, {
      suggestion: `tags in these files: ${[...new Set(loaded.flatMap((l) => l.experiment.tags))].join(", ") || "none"}`,
    });
  return chosen;
}

export function loadBaseline(ref: string, runsDir: string): RunReport {
  if (ref.endsWith(".json")) {
    try {
      return runReportSchema.parse(JSON.parse(readFileSync(ref, "utf8")));
    } catch (error) {
      throw new InvalidInputError(
        `${ref}: not a Faultline JSON report (${errorMessage(error).split("\n")[0]})`,
        {
          suggestion: "pass a report.json written by `faultline run` or `faultline report --format json`",
        },
      );
    }
  }
  return loadReport(ref, runsDir).report;
}

export async function runSuite(options: SuiteOptions): Promise<SuiteResult> {
  const progress = options.onProgress ?? (() => {});
  const prepared = await prepareSuite(options, progress);
  const history = options.history ? await openHistory(options.history) : undefined;
  const brought = new Set<string>();
  const runs: SuiteRun[] = [];
  try {
    for (const loaded of prepared.suite) {
      if (options.signal.aborted) break;
      const run = await runOne(loaded, { options, prepared, history, brought, progress, index: runs.length });
      runs.push(run);
      if (run.evaluation?.verdict === "interrupted") break;
    }
  } finally {
    await history?.close();
    for (const name of brought) {
      progress(`  replica ${name}: taking down what this run brought up (keep it with --keep-replica)`);
      await replicaDown(name);
    }
  }
  return summarize(runs, prepared, options.signal);
}

/** A suite checked before anything starts: its files, params, every plan, the baseline to compare with. */
interface PreparedSuite {
  definition: SuiteFile | undefined;
  params: Record<string, string>;
  suite: LoadedExperiment[];
  seed: number;
  /** Each experiment's fault plan, resolved once, against the shape its replica will have. */
  plans: Map<LoadedExperiment, ResolvedPlan>;
  baselineRef: string | undefined;
  baseline: RunReport | undefined;
}

/**
 * The checks runSuite makes before anything starts, alone (for a run another process carries
 * out): bad files, params, plans or baseline throw. Touches no engine.
 */
export async function checkSuite(options: Omit<SuiteOptions, "signal">): Promise<LoadedExperiment[]> {
  return (await prepareSuite({ ...options, signal: new AbortController().signal }, () => {})).suite;
}

async function prepareSuite(
  options: SuiteOptions,
  progress: (message: string) => void,
): Promise<PreparedSuite> {
  const definition = await suiteDefinition(options.paths);
  const params = { ...definition?.params, ...options.params };
  const suite = await loadSuite(options.paths, options.tags, params, options.topology, {
    allowHostCommands: options.allowHostCommands,
  });
  refuseStrayParams(suite, params);
  if (definition)
    progress(
      `suite ${definition.name} ${definition.release}${
        Object.keys(params).length
          ? ` (${Object.entries(params)
              .map(([k, v]) => `${k}=${v}`)
              .join(", ")})`
          : ""
      }: ${suite.length} experiment(s)`,
    );
  const seed = options.seed ?? newSeed();
  // Every plan is checked against the replica's shape before anything starts; the runs use them.
  const plans = new Map<LoadedExperiment, ResolvedPlan>();
  for (const l of suite) {
    const { topology } = replicaFor(l, options.replica, options.edges);
    // An attached stack's label targets resolve once its containers are found (runOne).
    if (l.attach && l.experiment.method.some((f) => f.target.kind === "labels")) continue;
    plans.set(l, { faults: planFaults(l.experiment, topology, seed), topology });
  }
  const baselineRef = options.gates?.baseline;
  if (baselineRef === "latest" && !options.history)
    throw new InvalidInputError("--baseline latest needs the run history", {
      suggestion: "drop --no-history, or name a run: --baseline RUN",
    });
  const baseline =
    baselineRef && baselineRef !== "latest" ? loadBaseline(baselineRef, options.runsDir) : undefined;
  return { definition, params, suite, seed, plans, baselineRef, baseline };
}

/** A value no experiment declares is a typo (--param pob=pop-b), not something to ignore. */
function refuseStrayParams(suite: readonly LoadedExperiment[], params: Record<string, string>): void {
  const declared = new Set(suite.flatMap((l) => Object.keys(l.experiment.params ?? {})));
  const stray = Object.keys(params).filter((name) => !declared.has(name));
  if (stray.length)
    throw new InvalidInputError(
      `no experiment declares the parameter${stray.length > 1 ? "s" : ""} ${stray.join(", ")}`,
      {
        suggestion: declared.size
          ? `the experiments declare: ${[...declared].join(", ")}`
          : "these experiments take no parameters; drop --param",
      },
    );
}

interface SuiteState {
  options: SuiteOptions;
  prepared: PreparedSuite;
  history: HistoryStore | undefined;
  brought: Set<string>;
  progress: (message: string) => void;
  /** How many runs came before this one. */
  index: number;
}

/** One experiment of the suite: its replica, its run (gates judged in it), its history row. */
async function runOne(loaded: LoadedExperiment, state: SuiteState): Promise<SuiteRun> {
  const { options, prepared, progress } = state;
  const { experiment, file } = loaded;
  const shape = replicaFor(loaded, options.replica, options.edges);
  const total = plannedSeconds(planOf(experiment));
  progress(
    `faultline: ${experiment.name} (${file}), about ${formatDuration(total * 1000)}${prepared.suite.length > 1 ? ` [${state.index + 1}/${prepared.suite.length}]` : ""}`,
  );
  try {
    // `--baseline latest`: the newest scored run before this one, read before anything starts.
    const latest =
      prepared.baselineRef === "latest" ? await state.history?.latestScored(experiment.name) : undefined;
    const replica = shape.attach
      ? await attachReplica(shape.attach, options, progress)
      : await prepareReplica(shape, options, progress, state.brought);
    options.onRunStart?.(loaded, total);
    // On an attached stack the plan is made again on what discovery found (real labels,
    // exposed ports), with the same seed, before anything is injected.
    const planned = shape.attach
      ? { faults: planFaults(experiment, replica.topology, prepared.seed), topology: replica.topology }
      : prepared.plans.get(loaded);
    const result = await runExperiment({
      loaded,
      replica,
      runsDir: options.runsDir,
      seed: prepared.seed,
      ...(planned ? { planned } : {}),
      recoverFirst: options.recover ?? false,
      ...(options.timeline ? { timeline: options.timeline } : {}),
      signal: options.signal,
      onEvent: (event) => options.onEvent?.(event, loaded),
      // The report model comes from the run's events in memory: the gates never depend on
      // the report files having been written.
      judge: (input) => judgeRun(input, experiment.name, latest, state),
    });
    await recordHistory(result, state);
    return {
      file,
      experiment: experiment.name,
      runId: result.runId,
      runDir: result.runDir,
      journalPath: result.journalPath,
      ...(result.report ? { report: result.report } : {}),
      evaluation: result.evaluation,
      ...(result.reports ? { reports: result.reports } : {}),
      gates: result.gates,
      exitCode: result.exitCode,
      seed: state.prepared.seed,
      ...(result.reportError ? { error: `reports not written: ${result.reportError}` } : {}),
    };
  } catch (error) {
    return notRun(error, loaded, state);
  }
}

/** The gates on a run's report (--fail-under, --baseline, the suite's go criteria) and its exit code. */
function judgeRun(
  input: JudgeInput,
  experiment: string,
  latest: RunReport | undefined,
  state: SuiteState,
): RunJudgement {
  const { options, prepared, progress } = state;
  const { baselineRef, definition } = prepared;
  const { report, evaluation } = input;
  const previous = baselineRef === "latest" ? latest : matchingBaseline(prepared.baseline, experiment);
  if (baselineRef === "latest" && !previous)
    progress(`  ${experiment}: no earlier scored run in the history; nothing to compare with yet`);
  const gatesWanted = options.gates?.failUnder !== undefined || baselineRef !== undefined;
  const gates: GateResult[] = report
    ? [
        ...evaluateGates(report, { ...options.gates, baseline: previous }),
        ...(definition ? goGates(definition, report) : []),
      ]
    : gatesWanted || definition
      ? [{ name: "gates", ok: false, message: `the gates could not be evaluated: ${input.reportError}` }]
      : [];
  let code = evaluation.exitCode;
  const acceptDegraded = options.acceptDegraded || definition?.go.acceptDegraded === true;
  if (code === ExitCode.degraded && acceptDegraded) code = ExitCode.passed;
  const exitCode = mostSevere([code, gates.some((g) => !g.ok) ? ExitCode.gateFailed : ExitCode.passed]);
  return { gates, exitCode };
}

async function recordHistory(result: RunResult, state: SuiteState): Promise<void> {
  if (!result.report) return;
  try {
    await state.history?.record(result.report, result.runDir, result.gates, result.exitCode);
  } catch (error) {
    state.progress(`  history: could not record ${result.runId}: ${errorMessage(error)}`);
  }
}

/** A run that could not be carried out; rethrows what is not the environment's or the input's. */
function notRun(error: unknown, loaded: LoadedExperiment, state: SuiteState): SuiteRun {
  const { experiment, file } = loaded;
  if (state.options.signal.aborted) {
    // Ctrl-C while a replica came up: nothing was injected; the suite stops here.
    return {
      file,
      experiment: experiment.name,
      gates: [],
      exitCode: ExitCode.interrupted,
      error: "interrupted",
    };
  }
  if (!(error instanceof FaultlineError)) throw error;
  if (state.prepared.suite.length === 1) throw error;
  state.progress(`  ${experiment.name}: ${error.message}`);
  return { file, experiment: experiment.name, gates: [], exitCode: error.exitCode, error: error.message };
}

function summarize(runs: SuiteRun[], prepared: PreparedSuite, signal: AbortSignal): SuiteResult {
  const { definition, suite, params } = prepared;
  const codes = runs.map((r) => r.exitCode);
  // Interrupted between runs: the experiments not run yet make this an interrupted suite.
  if (signal.aborted) codes.push(ExitCode.interrupted);
  const exitCode = mostSevere(codes);
  if (!definition) return { runs, exitCode };
  const reasons = runs.flatMap((run) => [
    ...(run.error && !run.report ? [`${run.experiment}: ${run.error}`] : []),
    ...run.gates.filter((g) => !g.ok).map((g) => `${run.experiment}: ${g.name}: ${g.message}`),
  ]);
  if (runs.length < suite.length) reasons.push(`${suite.length - runs.length} experiment(s) not run`);
  return {
    runs,
    exitCode,
    readiness: {
      suite: definition.name,
      release: definition.release,
      params,
      go: reasons.length === 0 && exitCode === ExitCode.passed,
      reasons,
    },
  };
}

/** The suite.yaml of the one folder given, if it has one. */
async function suiteDefinition(paths: readonly string[]): Promise<SuiteFile | undefined> {
  const folders: string[] = [];
  for (const path of paths) if ((await stat(path).catch(() => undefined))?.isDirectory()) folders.push(path);
  const found = (await Promise.all(folders.map(async (f) => ({ f, suite: await loadSuiteFile(f) })))).filter(
    (x) => x.suite,
  );
  if (found.length > 1)
    throw new InvalidInputError(
      `${found.map((x) => join(x.f, SUITE_FILE)).join(" and ")}: one suite at a time (each has its own go criteria)`,
      { suggestion: "run the folders one after the other" },
    );
  return found[0]?.suite;
}

/** A baseline applies to the run of the same experiment only. */
function matchingBaseline(baseline: RunReport | undefined, experiment: string): RunReport | undefined {
  return baseline && baseline.run.experiment.name === experiment ? baseline : undefined;
}

async function prepareReplica(
  shape: { name: string; topology: Topology; fromFile: boolean },
  options: SuiteOptions,
  progress: (message: string) => void,
  brought: Set<string>,
): Promise<Replica> {
  const { name } = shape;
  assertNotLocked(name);
  if (options.recover) {
    // A replica with stopped or paused services is refused by `up`: recover it first.
    const existing = await connectReplica(name).catch(() => undefined);
    if (existing) {
      const { recovered } = await recoverReplica(existing);
      for (const r of recovered) progress(`  recovered ${r.kind} on ${r.target}: ${r.what}`);
    }
  }
  const up = await replicaUp({
    replica: name,
    edges: options.edges,
    ...(shape.fromFile ? { topology: shape.topology } : {}),
    signal: options.signal,
    onProgress: (m) => progress(`  replica: ${m}`),
  });
  if (up.created && !options.keepReplica) brought.add(name);
  progress(
    `  replica ${name}: ${up.replica.topology.edges.length} edges ${judgedEdges(up.replica.topology).length < up.replica.topology.edges.length ? "up" : "healthy"} (${up.created ? `up in ${formatDuration(up.tookMs)}` : "reused"}); load balancer ${up.replica.endpoints.lb}${up.replica.endpoints.lbTls ? `, https://${up.replica.endpoints.lbTls}` : ""}`,
  );
  for (const line of unavailableWith(up.replica.topology))
    progress(`  not available with this config: ${line}`);
  return up.replica;
}

/**
 * A running stack the experiment attaches to: discovered (bad settings fail here, before
 * anything is touched), its settings recorded for the watchdog and `recover`, never brought
 * up or taken down. What needs parts the stack lacks is named, and the run carries on.
 */
async function attachReplica(
  settings: AttachSettings,
  options: SuiteOptions,
  progress: (message: string) => void,
): Promise<Replica> {
  const name = attachName(settings);
  assertNotLocked(name);
  const { replica, states } = await attachStack(settings);
  const stack = describeStack({ by: settings.compose ? "compose" : "label", selector: name });
  writeAttachRecord(settings);
  if (options.recover) {
    const { recovered } = await recoverReplica(replica);
    for (const r of recovered) progress(`  recovered ${r.kind} on ${r.target}: ${r.what}`);
  }
  // A container the user stopped is theirs to start; one a crashed run stopped is in the
  // ledger, and the preflight names it.
  const notRunning = Object.entries(states).filter(([, state]) => state !== "running");
  if (notRunning.length > 0 && (options.recover || readLedger(name).entries.length === 0))
    throw new EnvironmentError(
      `${stack}: ${notRunning.map(([service, state]) => `${service} is ${state}`).join(", ")}; Faultline starts no container it did not stop`,
      { suggestion: "start it with the stack's own tools (docker-compose start), then run again" },
    );
  progress(
    `  attached to ${stack}: ${replica.topology.services.map((s) => `${s.name} (${s.role})`).join(", ")}; entry point ${replica.endpoints.lb}; Faultline leaves its containers as it found them`,
  );
  for (const line of unavailable(settings)) progress(`  not available with this config: ${line}`);
  return replica;
}

/** What a replica running the user's own configs cannot give, one line each. */
function unavailableWith(topology: Topology): string[] {
  const pops = topology.pops ?? [];
  return [
    ...(topology.lbStats === false && !topology.pops
      ? [
          "the load balancer's view of the edges and the time to detect (your loadBalancer.config has no stats: page)",
        ]
      : []),
    ...pops.flatMap((pop, p) =>
      pop.stats === false
        ? [
            `${pop.name}'s load balancer's view of its edges and the time to detect them (your pops[${p}].loadBalancer.config has no stats: page)`,
          ]
        : [],
    ),
    ...(topology.global?.stats === false
      ? [
          "the global layer's view of the PoPs and the time to detect a PoP's loss (your global.config has no stats: page)",
        ]
      : []),
  ];
}

/** What an attached stack cannot give this experiment, one line each. */
function unavailable(settings: AttachSettings): string[] {
  return settings.stats
    ? []
    : ["the load balancer's view of the edges and the time to detect (no stats: in replica.attach)"];
}
