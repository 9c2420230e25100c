import { Flags } from "@oclif/core";
import { BaseCommand } from "../cli/base-command.js";
import { historyFlag, runsDirFlag } from "../cli/flags.js";
import { historyLocation, openHistory } from "../history/open.js";
import { type HistoryRun, type Trend, trends } from "../history/store.js";
import { formatDuration } from "../units.js";

export default class HistoryCommand extends BaseCommand {
  static override description =
    `List past runs with their verdict, score and duration, and the score trend per experiment

Every \`faultline run\` records its run in <runs-dir>/history.db (SQLite), or in the shared
PostgreSQL history that --history (or FAULTLINE_HISTORY) names. Newest runs first; the trend
shows each experiment's last scores, oldest to newest, and the change of the latest.`;
  static override examples = [
    "<%= config.bin %> history",
    "<%= config.bin %> history --experiment edge-node-failover --limit 5",
    "<%= config.bin %> history --json",
    "<%= config.bin %> history --history postgres://faultline@127.0.0.1:5432/gamedays",
  ];
  static override enableJsonFlag = true;
  static override flags = {
    "runs-dir": runsDirFlag("where run folders and history.db are"),
    history: historyFlag(),
    experiment: Flags.string({ char: "e", description: "only this experiment's runs" }),
    limit: Flags.integer({ char: "n", description: "how many runs to list", default: 20, min: 1 }),
  };

  async run(): Promise<{ runs: HistoryRun[]; trends: Trend[] }> {
    const { flags } = await this.parse(HistoryCommand);
    const history = await openHistory(historyLocation(flags.history, flags["runs-dir"]));
    try {
      const runs = await history.list({ experiment: flags.experiment, limit: flags.limit });
      const all = (await trends(history)).filter(
        (t) => !flags.experiment || t.experiment === flags.experiment,
      );
      if (!this.jsonEnabled()) this.log(renderHistory(runs, all, history.path));
      return { runs, trends: all };
    } finally {
      await history.close();
    }
  }
}

function renderHistory(runs: readonly HistoryRun[], all: readonly Trend[], path: string): string {
  if (runs.length === 0) return `no runs recorded in ${path} yet: \`faultline run FILE\` records one`;
  const idWidth = Math.max(...runs.map((r) => r.id.length)) + 2;
  const nameWidth = Math.max(10, ...runs.map((r) => r.experiment.length)) + 2;
  const lines = [
    `${"run".padEnd(idWidth)}${"experiment".padEnd(nameWidth)}${"verdict".padEnd(14)}${"score".padStart(6)}  ${"gates".padEnd(7)}${"duration".padEnd(10)}started`,
  ];
  for (const r of runs) {
    lines.push(
      `${r.id.padEnd(idWidth)}${r.experiment.padEnd(nameWidth)}${r.verdict.padEnd(14)}${(r.score === null ? "-" : r.score.toFixed(1)).padStart(6)}  ${(r.gatesTotal ? `${r.gatesTotal - r.gatesFailed}/${r.gatesTotal}` : "-").padEnd(7)}${(r.durationMs === null ? "-" : formatDuration(r.durationMs)).padEnd(10)}${r.startedAt.replace("T", " ").slice(0, 19)}`,
    );
  }
  lines.push("", "score trend (oldest to newest):");
  for (const t of all) {
    const scores = t.scores.map((s) => (s === null ? "-" : s.toFixed(1))).join(" → ");
    const change = t.change === null ? "" : `  (${t.change >= 0 ? "+" : ""}${t.change} vs the previous run)`;
    lines.push(
      `  ${t.experiment.padEnd(nameWidth)}${scores}${change}${t.mean === null ? "" : `  mean ${t.mean}`}`,
    );
  }
  return lines.join("\n");
}
