import { writeFileSync } from "node:fs";
import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../cli/base-command.js";
import { runsDirFlag } from "../cli/flags.js";
import { loadReport, type ReportFormat, renderReport, reportFormats, reportJson } from "../reports/index.js";

export default class Report extends BaseCommand {
  static override description = `Re-render the report of a past run from its journal

The report is computed from the journal alone (its measurements and the experiment it ran), so
any past run can be rendered again, in any format: json (versioned schema, see
docs/reports.md), junit (one test case per check), md (fits a CI step summary) or html
(self-contained, with charts). A run judged by gates (--fail-under, --baseline, a suite's go
criteria) is rendered with their results and the exit code it had, as its journal recorded.`;
  static override examples = [
    "<%= config.bin %> report 20261128-140202-edge-latency-67c6 --format md",
    "<%= config.bin %> report runs/20261128-140202-edge-latency-67c6 --format html --output report.html",
    "<%= config.bin %> report runs/20261128-140202-edge-latency-67c6/journal.jsonl --format junit > junit.xml",
  ];
  static override enableJsonFlag = true;
  static override args = {
    run: Args.string({
      description: "a run id (a folder of --runs-dir), a run folder, or a journal file",
      required: true,
    }),
  };
  static override flags = {
    format: Flags.string({
      char: "f",
      description: "output format",
      options: [...reportFormats],
      default: "md",
    }),
    output: Flags.string({ char: "o", description: "write to this file instead of stdout" }),
    "runs-dir": runsDirFlag("where run folders are"),
  };

  async run(): Promise<ReturnType<typeof reportJson>> {
    const { args, flags } = await this.parse(Report);
    const { report, context } = loadReport(args.run, flags["runs-dir"]);
    // --json is the JSON report itself, as report.json holds it.
    if (this.jsonEnabled()) return reportJson(report, context);
    const text = renderReport(report, flags.format as ReportFormat, context);
    if (flags.output) {
      writeFileSync(flags.output, text);
      this.progress(`wrote the ${flags.format} report of ${report.run.id} to ${flags.output}`);
    } else {
      process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
    }
    return reportJson(report, context);
  }
}
