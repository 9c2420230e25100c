import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { formatValue } from "../steady-state/checks.js";
import { formatDuration } from "../units.js";
import { popTimingLines } from "../verdict/pop-timings.js";
import type { RenderContext } from "./junit.js";
import { phaseStatus, type RunReport, recoveryText } from "./model.js";

// A self-contained HTML report: Chart.js and its annotation plugin are inlined, the run's
// report model is embedded as JSON, and the page draws latency percentiles, error rate and
// throughput over time with fault windows shaded and check thresholds drawn, plus the score
// breakdown. It opens from disk, offline, in any browser.

const require = createRequire(import.meta.url);

function libraryScript(pkg: string, file: string): string {
  return readFileSync(join(dirname(require.resolve(pkg)), file), "utf8");
}

let libraries: string | undefined;
function inlineLibraries(): string {
  libraries ??= [
    libraryScript("chart.js", "chart.umd.min.js"),
    libraryScript("chartjs-plugin-annotation", "chartjs-plugin-annotation.min.js"),
  ]
    .map((code) => `<script>${code.replace(/<\/script/gi, "<\\/script")}</script>`)
    .join("\n");
  return libraries;
}

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );

/** JSON that is safe inside a <script> element. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, "\\u003c");

const colors: Record<string, string> = {
  passed: "#1a7f37",
  degraded: "#9a6700",
  failed: "#cf222e",
  aborted: "#cf222e",
  inconclusive: "#57606a",
  interrupted: "#57606a",
  errored: "#cf222e",
};

// Runs in the browser: builds the charts from the embedded report.
const drawCharts = `
(() => {
  const report = JSON.parse(document.getElementById("faultline-report").textContent);
  const s = report.series;
  const faultBoxes = report.faults.filter((f) => f.appliedSecond !== null).map((f, i) => ({
    type: "box",
    xMin: f.appliedSecond,
    xMax: f.revertedSecond ?? s.second[s.second.length - 1],
    backgroundColor: "rgba(207, 34, 46, 0.10)",
    borderWidth: 0,
    label: { display: true, content: f.id + " " + f.fault, position: { x: "center", y: "end" }, font: { size: 10 }, color: "#8c1d24" },
  }));
  const phaseLines = report.phases.filter((p) => p.phase !== "warmup").map((p) => ({
    type: "line", xMin: p.start, xMax: p.start, borderColor: "rgba(87, 96, 106, 0.5)", borderWidth: 1, borderDash: [4, 4],
    label: { display: true, content: p.phase, position: "start", font: { size: 10 }, backgroundColor: "rgba(87, 96, 106, 0.7)" },
  }));
  const thresholds = (metrics, scale) => report.checks.filter((c) => metrics(c.metric)).flatMap((c) =>
    [c.threshold, c.thresholdHigh].filter((t) => t !== null).map((t) => ({
      type: "line", yMin: t * scale, yMax: t * scale, borderColor: "#cf222e", borderWidth: 1.5,
      label: { display: true, content: c.name, position: "end", font: { size: 10 }, backgroundColor: "rgba(207, 34, 46, 0.8)" },
    })));
  const points = (values, scale = 1) => s.second.map((x, i) => ({ x, y: values[i] === null ? null : values[i] * scale }));
  const common = (yTitle, annotations) => ({
    animation: false, responsive: true, maintainAspectRatio: false, spanGaps: false,
    parsing: false, normalized: true,
    scales: { x: { type: "linear", title: { display: true, text: "seconds since the load started" } }, y: { beginAtZero: true, title: { display: true, text: yTitle } } },
    plugins: { annotation: { annotations: [...faultBoxes, ...phaseLines, ...annotations] }, legend: { position: "bottom" } },
    elements: { point: { radius: 0 }, line: { borderWidth: 1.5 } },
  });
  let drawn = 0;
  const chart = (id, config) => { new Chart(document.getElementById(id), config); drawn++; };
  chart("chart-latency", { type: "line", data: { datasets: [
    { label: "p50", data: points(s.p50), borderColor: "#0969da" },
    { label: "p95", data: points(s.p95), borderColor: "#8250df" },
    { label: "p99", data: points(s.p99), borderColor: "#bf3989" },
  ] }, options: common("latency (ms)", thresholds((m) => m.startsWith("latency."), 1)) });
  chart("chart-errors", { type: "line", data: { datasets: [
    { label: "error rate", data: points(s.errorRate, 100), borderColor: "#cf222e" },
  ] }, options: common("errors (%)", thresholds((m) => m === "errors.rate", 100)) });
  chart("chart-throughput", { type: "line", data: { datasets: [
    { label: "requests per second", data: points(s.throughput), borderColor: "#1a7f37" },
  ] }, options: common("requests per second", thresholds((m) => m === "throughput", 1)) });
  if (report.score) {
    const parts = report.score.components;
    chart("chart-score", { type: "bar", data: {
      labels: parts.map((c) => c.name + " (weight " + c.weight + ")"),
      datasets: [{ label: "component value (0-100)", data: parts.map((c) => c.value === null ? 0 : Math.round(c.value * 1000) / 10), backgroundColor: "#0969da" }],
    }, options: { animation: false, indexAxis: "y", responsive: true, maintainAspectRatio: false, scales: { x: { min: 0, max: 100 } }, plugins: { legend: { display: false } } } });
  }
  document.body.dataset.chartsRendered = String(drawn);
})();
`;

const reportPhases = ["baseline", "inject", "recover", "verify"] as const;

function checkRows(report: RunReport): string {
  return report.checks
    .map((check) => {
      const cells = reportPhases.map((phase) => {
        const s = check.phases[phase];
        if (!s) return "<td>–</td>";
        const cls = phaseStatus(s);
        return `<td class="${cls}">${escapeHtml(formatValue(check.metric, s.worst ?? undefined))} <small>(${s.held}/${s.windows})</small></td>`;
      });
      return `<tr><th>${escapeHtml(check.name)}</th>${cells.join("")}</tr>`;
    })
    .join("\n");
}

function timingItems(timings: RunReport["timings"]): string {
  return [
    ...timings.detection.map(
      (d) =>
        `time to detect (${d.fault}, ${d.service}): ${d.detectMs === null ? "never marked down" : formatDuration(d.detectMs)}`,
    ),
    ...(timings.failoverMs !== null || timings.detection.length
      ? [`time to failover: ${timings.failoverMs === null ? "never" : formatDuration(timings.failoverMs)}`]
      : []),
    ...(timings.pops ? popTimingLines(timings.pops) : []),
    `time to recovery: ${recoveryText(timings)} (target ${formatDuration(timings.recoveryTargetMs)})`,
  ]
    .map((t) => `<li>${escapeHtml(t)}</li>`)
    .join("");
}

function scoreSection(report: RunReport): string {
  const { score, verdict } = report;
  if (!score) return `<h2>Score</h2><p>none: a ${verdict.verdict} run measured nothing to score.</p>`;
  return `<h2>Score ${score.value}/100</h2><p><code>${escapeHtml(score.formula)}</code></p>
<div class="chart short"><canvas id="chart-score" role="img" aria-label="score components"></canvas></div>
<table><tr><th>component</th><th>value</th><th>weight</th><th>how</th></tr>${score.components
    .map(
      (c) =>
        `<tr><td>${c.name}</td><td>${c.value === null ? "n/a" : c.value.toFixed(3)}</td><td>${c.weight}</td><td>${escapeHtml(c.explanation)}</td></tr>`,
    )
    .join(
      "",
    )}</table>${score.noData.length ? `<p>No data (left out): ${escapeHtml(score.noData.join(", "))}</p>` : ""}`;
}

function faultRows(report: RunReport): string {
  return report.faults
    .map(
      (f) =>
        `<tr><td>${escapeHtml(f.id)}</td><td>${escapeHtml(f.fault)}</td><td>${escapeHtml(f.target)}</td><td>${escapeHtml(f.description)}${f.error ? ` <b>error: ${escapeHtml(f.error)}</b>` : ""}</td><td>${f.appliedSecond ?? "–"}</td><td>${f.revertedSecond ?? "–"}</td></tr>`,
    )
    .join("");
}

function gateRows(gates: RenderContext["gates"] = []): string {
  return gates
    .map(
      (g) =>
        `<tr><td class="${g.ok ? "held" : "broke"}">${g.ok ? "pass" : "FAIL"}</td><td>${escapeHtml(g.name)}</td><td>${escapeHtml(g.message)}</td></tr>`,
    )
    .join("");
}

export function renderHtml(report: RunReport, context: RenderContext = {}): string {
  const { run, verdict, score, timings } = report;
  const gates = context.gates ?? [];
  const exitCode = context.exitCode ?? verdict.exitCode;
  const phases = reportPhases;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(run.experiment.name)}: ${verdict.verdict} · Faultline</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1100px; padding: 0 16px; color: #1f2328; }
h1 { margin-bottom: 4px; } .verdict { color: ${colors[verdict.verdict] ?? "#1f2328"}; }
.meta { color: #57606a; } table { border-collapse: collapse; margin: 8px 0 16px; width: 100%; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
td.held { background: #dafbe1; } td.broke { background: #ffebe9; } td.nodata { background: #f6f8fa; }
.chart { position: relative; height: 280px; margin-bottom: 24px; } .chart.short { height: 160px; }
</style>
</head>
<body>
<h1>${escapeHtml(run.experiment.name)}: <span class="verdict">${verdict.verdict.toUpperCase()}</span>${score ? ` · score ${score.value}/100` : ""}</h1>
<p class="meta">run ${escapeHtml(run.id)} · replica ${escapeHtml(run.replica)} · ${escapeHtml(run.load.driver)} ${escapeHtml(run.load.version)} at ${run.load.ratePerSecond}/s · seed ${run.seed} · started ${escapeHtml(run.startedAt)}${run.durationMs === null ? "" : ` · ${formatDuration(run.durationMs)}`}</p>
<p>${escapeHtml(verdict.reason)} (exit ${exitCode})</p>
${gates.length ? `<h2>Gates</h2><table>${gateRows(gates)}</table>` : ""}
<h2>Latency</h2><div class="chart"><canvas id="chart-latency" role="img" aria-label="latency percentiles over time"></canvas></div>
<h2>Errors</h2><div class="chart"><canvas id="chart-errors" role="img" aria-label="error rate over time"></canvas></div>
<h2>Throughput</h2><div class="chart"><canvas id="chart-throughput" role="img" aria-label="throughput over time"></canvas></div>
<h2>Checks</h2>
<table><tr><th>check</th>${phases.map((p) => `<th>${p}</th>`).join("")}</tr>
${checkRows(report)}</table>
<p class="meta">Worst value per phase; windows that held / windows.</p>
<h2>Timings</h2><ul>${timingItems(timings)}</ul>
${scoreSection(report)}
${report.faults.length ? `<h2>Faults</h2><table><tr><th>id</th><th>fault</th><th>target</th><th>what</th><th>applied (s)</th><th>reverted (s)</th></tr>${faultRows(report)}</table>` : ""}
<script type="application/json" id="faultline-report">${scriptJson(report)}</script>
${inlineLibraries()}
<script>${drawCharts}</script>
</body>
</html>
`;
}
