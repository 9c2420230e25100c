import { stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../cli/base-command.js";
import { allowHostCommandsFlag, topologyFlag } from "../cli/flags.js";
import { parseParamFlags } from "../cli/params.js";
import { ExitCode, FaultlineError, type LocatedIssue, ValidationError } from "../errors.js";
import { describeLoad } from "../experiments/load-schema.js";
import { type LoadOptions, loadExperiment } from "../experiments/loader.js";
import {
  experimentFilesIn,
  loadSuiteFile,
  notAnExperimentFile,
  SUITE_FILE,
  TOPOLOGY_FILE,
} from "../experiments/suite-file.js";
import { loadTopology } from "../replica/topology-file.js";
import { plannedSeconds, planOf } from "../run/runner.js";
import { formatDuration } from "../units.js";

interface FileResult {
  file: string;
  valid: boolean;
  name?: string;
  durationSeconds?: number;
  issues: Omit<LocatedIssue, "file">[];
  error?: string;
}

export default class Validate extends BaseCommand {
  static override description = `Check experiment files without running anything

A folder stands for its *.yaml files; its suite.yaml, if any, is checked as a suite file and
its params fill the experiments' \${name} placeholders (as --param does). A topology file
(edges: or pops:) is checked as one, with its own parts and their config templates.`;
  static override examples = [
    "<%= config.bin %> validate experiments/edge-latency.yaml",
    "<%= config.bin %> validate experiments/*.yaml --json",
    "<%= config.bin %> validate experiments/launch-readiness --param pop=pop-live",
  ];
  static override enableJsonFlag = true;
  static override strict = false;
  static override args = {
    file: Args.string({ description: "experiment or topology YAML file(s), or folder(s)", required: true }),
  };
  static override flags = {
    topology: topologyFlag(),
    param: Flags.string({
      description:
        "a value for one of the experiments' params (their placeholders), as name=value (repeatable)",
      multiple: true,
    }),
    "allow-host-commands": allowHostCommandsFlag(),
  };

  async run(): Promise<FileResult[]> {
    const { argv, flags } = await this.parse(Validate);
    const given = argv.filter((a): a is string => typeof a === "string");
    const results: FileResult[] = [];
    const givenParams = parseParamFlags(flags.param);
    // Each file with the params it is checked with: its folder's suite.yaml's, then --param.
    const files: { file: string; params: Record<string, string> }[] = [];
    const fail = (file: string, error: FaultlineError) => {
      const issues = error instanceof ValidationError ? error.issues.map(({ file: _, ...rest }) => rest) : [];
      results.push({ file, valid: false, issues, error: error.message });
      if (!this.jsonEnabled()) {
        process.stderr.write(`error: ${error.message}\n`);
        if (error.suggestion) process.stderr.write(`try this: ${error.suggestion}\n`);
      }
    };
    const topologies: string[] = [];
    for (const path of given) {
      const isFolder = (await stat(path).catch(() => undefined))?.isDirectory() === true;
      if (!isFolder && (await notAnExperimentFile(path)) === TOPOLOGY_FILE) {
        topologies.push(path);
        continue;
      }
      if (!isFolder && basename(path) !== SUITE_FILE) {
        files.push({ file: path, params: givenParams });
        continue;
      }
      const folder = isFolder ? path : join(path, "..");
      let params = givenParams;
      try {
        const suite = await loadSuiteFile(folder);
        if (suite) {
          params = { ...suite.params, ...givenParams };
          results.push({ file: join(folder, SUITE_FILE), valid: true, name: suite.name, issues: [] });
          this.log(`ok  ${join(folder, SUITE_FILE)}: suite ${suite.name} ${suite.release}`);
        }
      } catch (error) {
        if (!(error instanceof FaultlineError)) throw error;
        fail(join(folder, SUITE_FILE), error);
      }
      if (isFolder) {
        const { files: found, skipped } = await experimentFilesIn(path);
        files.push(...found.map((file) => ({ file, params })));
        for (const { file, what } of skipped)
          if (what === TOPOLOGY_FILE) topologies.push(file);
          else this.log(`--  ${file}: ${what}, not an experiment (skipped)`);
      }
    }
    const check = async (
      file: string,
      work: () => Promise<Omit<FileResult, "file" | "valid" | "issues">>,
    ) => {
      try {
        results.push({ file, valid: true, issues: [], ...(await work()) });
      } catch (error) {
        if (!(error instanceof FaultlineError)) throw error;
        fail(file, error);
      }
    };
    for (const { file, params } of files)
      await check(file, () =>
        this.checkExperiment(file, {
          params,
          topology: flags.topology,
          allowHostCommands: flags["allow-host-commands"],
        }),
      );
    for (const file of topologies) await check(file, () => this.checkTopology(file));
    if (results.some((r) => !r.valid)) process.exitCode = ExitCode.invalidInput;
    return results;
  }

  private async checkExperiment(file: string, options: LoadOptions) {
    const { experiment } = await loadExperiment(file, options);
    const total = plannedSeconds(planOf(experiment));
    this.log(
      `ok  ${file}: ${experiment.name}, ${experiment.method.length} fault(s), ${experiment.steadyState.checks.length} check(s), about ${formatDuration(total * 1000)}`,
    );
    // Stages are k6's: each ends at its target; say what rate that gives when.
    if (experiment.load.stages.length > 0 || experiment.load.mix)
      this.log(
        `    load: ${describeLoad(experiment.load)}${experiment.load.stages.length ? " (stages as k6's ramping-arrival-rate executor reads them)" : ""}`,
      );
    for (const check of experiment.steadyState.checks)
      if (check.k6 !== undefined)
        this.log(
          `    check "${check.name}": k6 ${check.k6} is ${check.metric}${check.request ? ` of ${check.request}` : ""} ${check.comparator} ${check.thresholdText}`,
        );
    return { name: experiment.name, durationSeconds: total };
  }

  /** A topology file is checked whole: its schema, its own parts and their config templates. */
  private async checkTopology(file: string) {
    const topology = await loadTopology(file);
    const pops = topology.pops ? `, PoPs ${topology.pops.map((p) => p.name).join(", ")}` : "";
    this.log(
      `ok  ${file}: topology ${topology.replica}, ${topology.edges.length} edge(s)${pops}, ${topology.services.length} services`,
    );
    return { name: topology.replica };
  }
}
