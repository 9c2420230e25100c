import { formatValue } from "../steady-state/checks.js";
import { formatDuration } from "../units.js";
import { popTimingLines } from "../verdict/pop-timings.js";
import type { RenderContext } from "./junit.js";
import { phaseMark, type RunReport, recoveryText } from "./model.js";

// Markdown sized for a CI step summary (GitHub's $GITHUB_STEP_SUMMARY, GitLab notes): the
// verdict and score first, then the checks per phase, timings, the score's parts, the faults.

const icons: Record<RunReport["verdict"]["verdict"], string> = {
  passed: "✅",
  degraded: "🟡",
  failed: "❌",
  aborted: "🛑",
  inconclusive: "❔",
  interrupted: "⏹️",
  errored: "💥",
};

/** Text from users and probes, made inert: no table breaks, no markup, no HTML. */
const cell = (text: string) =>
  text
    .replace(/[\\`*_[\]<>|]/g, (c) => (c === "<" ? "&lt;" : c === ">" ? "&gt;" : `\\${c}`))
    .replace(/[\r\n]+/g, " ");
const ms = (value: number | null) => (value === null ? "never" : formatDuration(value));

export function renderMarkdown(report: RunReport, context: RenderContext = {}): string {
  const { run, verdict, score, timings } = report;
  const gates = context.gates ?? [];
  const exitCode = context.exitCode ?? verdict.exitCode;
  const out: string[] = [];
  out.push(
    `## ${icons[verdict.verdict]} ${run.experiment.name}: ${verdict.verdict.toUpperCase()} (exit ${exitCode})${score ? `, score ${score.value}/100` : ""}`,
    "",
    `> ${cell(verdict.reason)}`,
    "",
  );
  if (gates.length) {
    out.push("| gate | result |", "| --- | --- |");
    for (const g of gates) out.push(`| ${g.ok ? "✅" : "❌"} ${cell(g.name)} | ${cell(g.message)} |`);
    out.push("");
  }
  const phases = ["baseline", "inject", "recover", "verify"] as const;
  out.push(`| check | ${phases.join(" | ")} |`, `| --- |${phases.map(() => " --- |").join("")}`);
  for (const check of report.checks) {
    const cells = phases.map((phase) => {
      const s = check.phases[phase];
      if (!s) return "–";
      const mark = phaseMark(s);
      return `${mark} ${formatValue(check.metric, s.worst ?? undefined)} (${s.held}/${s.windows})`;
    });
    out.push(`| ${cell(check.name)} | ${cells.join(" | ")} |`);
  }
  out.push("", "_Worst value per phase; windows that held / windows._", "");

  const timing: string[] = [];
  for (const d of timings.detection)
    timing.push(
      `time to detect (${d.fault}, ${d.service}): ${d.detectMs === null ? "never marked down" : formatDuration(d.detectMs)}`,
    );
  if (timings.failoverMs !== null || timings.detection.length)
    timing.push(`time to failover: ${ms(timings.failoverMs)}`);
  if (timings.pops) timing.push(...popTimingLines(timings.pops));
  timing.push(
    `time to recovery: ${recoveryText(timings)} (target ${formatDuration(timings.recoveryTargetMs)})`,
  );
  out.push(...timing.map((t) => `- ${t}`), "");

  if (score) {
    out.push(
      `**Score ${score.value}/100** = ${score.formula}`,
      "",
      "| component | value | weight | how |",
      "| --- | --- | --- | --- |",
    );
    for (const c of score.components)
      out.push(
        `| ${c.name} | ${c.value === null ? "n/a" : c.value.toFixed(3)} | ${c.weight} | ${cell(c.explanation)} |`,
      );
    if (score.noData.length) out.push("", `No data (left out): ${score.noData.map(cell).join(", ")}`);
    out.push("");
  }

  if (report.faults.length) {
    out.push("| fault | target | what | applied | reverted |", "| --- | --- | --- | --- | --- |");
    for (const f of report.faults) {
      const when = (s: number | null) => (s === null ? "–" : `${s}s`);
      out.push(
        `| ${f.id} ${f.fault} | ${cell(f.target)} | ${cell(f.description)}${f.error ? ` (error: ${cell(f.error)})` : ""} | ${when(f.appliedSecond)} | ${when(f.revertedSecond)} |`,
      );
    }
    out.push("");
  }
  out.push(
    `<sub>run \`${run.id}\` · replica ${run.replica} · ${run.load.driver} ${run.load.version} at ${run.load.ratePerSecond}/s · seed ${run.seed}${run.durationMs === null ? "" : ` · ${formatDuration(run.durationMs)}`}</sub>`,
    "",
  );
  return out.join("\n");
}
