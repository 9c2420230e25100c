import { Args } from "@oclif/core";
import { BaseCommand } from "../cli/base-command.js";
import { ExitCode, FaultlineError, type LocatedIssue, ValidationError } from "../errors.js";
import { loadExperiment } from "../experiments/loader.js";
import { plannedSeconds, planOf } from "../experiments/runner.js";
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
  static override description = "Check experiment files without running anything";
  static override examples = [
    "<%= config.bin %> validate experiments/edge-latency.yaml",
    "<%= config.bin %> validate experiments/*.yaml --json",
  ];
  static override enableJsonFlag = true;
  static override strict = false;
  static override args = { file: Args.string({ description: "experiment YAML file(s)", required: true }) };

  async run(): Promise<FileResult[]> {
    const { argv } = await this.parse(Validate);
    const files = argv.filter((a): a is string => typeof a === "string");
    const results: FileResult[] = [];
    for (const file of files) {
      try {
        const { experiment } = await loadExperiment(file);
        const total = plannedSeconds(planOf(experiment));
        results.push({ file, valid: true, name: experiment.name, durationSeconds: total, issues: [] });
        this.log(
          `ok  ${file}: ${experiment.name}, ${experiment.method.length} fault(s), ${experiment.steadyState.checks.length} check(s), about ${formatDuration(total * 1000)}`,
        );
      } catch (error) {
        if (!(error instanceof FaultlineError)) throw error;
        const issues =
          error instanceof ValidationError ? error.issues.map(({ file: _, ...rest }) => rest) : [];
        results.push({ file, valid: false, issues, error: error.message });
        if (!this.jsonEnabled()) {
          process.stderr.write(`error: ${error.message}\n`);
          if (error.suggestion) process.stderr.write(`try this: ${error.suggestion}\n`);
        }
      }
    }
    if (results.some((r) => !r.valid)) process.exitCode = ExitCode.invalidInput;
    return results;
  }
}
