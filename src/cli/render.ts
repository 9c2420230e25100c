import type { JournalEvent, Phase } from "../journal/journal.js";
import { phaseStatus } from "../reports/model.js";
import { formatValue, holds } from "../steady-state/checks.js";
import type { CheckSummary, RunEvaluation } from "../verdict/evaluation.js";
import { popTimingLines } from "../verdict/pop-timings.js";

// Human-readable rendering of journal events (live progress) and of the final evaluation.

const pad = (text: string, width: number) =>
  text.length >= width ? text : text + " ".repeat(width - text.length);

const short = (text: string, width = 32) => (text.length <= width ? text : `${text.slice(0, width - 1)}…`);

export function progressLine(event: JournalEvent, startedAt: number): string | undefined {
  const t = `${Math.round((Date.parse(event.at) - startedAt) / 1000)}s`.padStart(5);
  switch (event.type) {
    case "phase":
      return `${t}  phase ${event.phase}`;
    case "fault-intent":
      return `${t}  applying ${event.id}: ${event.description}`;
    case "fault-applied":
      return `${t}  applied  ${event.id}`;
    case "fault-reverted":
      return `${t}  reverted ${event.id}`;
    case "fault-apply-failed":
      return `${t}  FAILED to apply ${event.id}: ${event.error}`;
    case "fault-revert-failed":
      return `${t}  FAILED to revert ${event.id}: ${event.error}`;
    case "window": {
      const held = event.results.every(holds);
      const values = event.results
        .filter((r) => r.applies !== false)
        .map(
          (r) =>
            `${r.ok === false ? (r.tolerated ? "~" : "✗") : r.ok === undefined ? "?" : "✓"} ${short(r.check)} ${formatValue(r.metric, r.value)}`,
        )
        .join("  ");
      return `${t}  ${pad(event.phase, 8)} window ${event.start}-${event.end}s ${held ? "held " : "BROKE"}  ${values}`;
    }
    case "interrupted":
      return `${t}  interrupted (${event.signal}): reverting every fault`;
    case "lb-state":
      return `${t}  load balancer: ${event.edge} ${event.state}`;
    case "pop-state":
      return `${t}  global layer: PoP ${event.pop} ${event.state}`;
    case "aborted":
      return `${t}  ABORT: "${event.condition}" breached; reverting every fault now`;
    case "error":
      return `${t}  error: ${event.message}`;
    default:
      return undefined;
  }
}

const reportPhases: Phase[] = ["baseline", "inject", "recover", "verify"];

function cell(summary: CheckSummary, phase: Phase): string {
  const s = summary.phases[phase];
  if (!s) return "-";
  const mark = { held: "✓", broke: "✗", nodata: "?" }[phaseStatus(s)];
  return `${mark} ${formatValue(summary.metric, s.worst)} (${s.held}/${s.windows})`;
}

export function renderEvaluation(evaluation: RunEvaluation, journalPath: string): string {
  const lines: string[] = [];
  lines.push(`verdict: ${evaluation.verdict.toUpperCase()} (exit ${evaluation.exitCode})`);
  lines.push(`  ${evaluation.reason}`);
  lines.push("");
  const nameWidth = Math.max(5, ...evaluation.checks.map((c) => c.check.length)) + 2;
  lines.push(`${pad("check", nameWidth)}${reportPhases.map((p) => pad(p, 22)).join("")}`);
  for (const check of evaluation.checks) {
    lines.push(`${pad(check.check, nameWidth)}${reportPhases.map((p) => pad(cell(check, p), 22)).join("")}`);
  }
  lines.push("(worst value per phase; windows that held / windows)");
  lines.push("");
  const ttr = evaluation.timeToRecoveryMs;
  for (const d of evaluation.timings.detection) {
    lines.push(
      `time to detect (${d.fault}, ${d.service}): ${d.detectMs === null ? "never marked down by the load balancer" : `${(d.detectMs / 1000).toFixed(2)}s until the load balancer marked it down`}`,
    );
  }
  const ttf = evaluation.timings.failoverMs;
  if (ttf !== undefined) {
    lines.push(
      `time to failover: ${ttf === null ? "errors never came back under the SLO under fault" : `${ttf / 1000}s until errors stayed under the SLO`}`,
    );
  }
  if (evaluation.timings.pops) lines.push(...popTimingLines(evaluation.timings.pops));
  lines.push(
    `time to recovery: ${ttr === undefined ? "not measured" : ttr === null ? "never recovered" : `${ttr / 1000}s`} (target ${evaluation.recoveryTargetMs / 1000}s)`,
  );
  if (evaluation.score) {
    lines.push(`score: ${evaluation.score.value}/100 = ${evaluation.score.formula}`);
    for (const c of evaluation.score.components) {
      lines.push(
        `  ${c.name.padEnd(12)} ${c.value === undefined ? "n/a  " : c.value.toFixed(3)}  (weight ${c.weight}) ${c.explanation}`,
      );
    }
    if (evaluation.score.noData.length)
      lines.push(`  no data (left out): ${evaluation.score.noData.join(", ")}`);
  } else {
    lines.push(
      `score: none (${/^[aeiou]/.test(evaluation.verdict) ? "an" : "a"} ${evaluation.verdict} run measured nothing to score)`,
    );
  }
  lines.push(`journal: ${journalPath}`);
  return lines.join("\n");
}
