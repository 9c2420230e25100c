import { XMLParser, XMLValidator } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import type { JournalEvent } from "../../src/journal/journal.js";
import { evaluateGates } from "../../src/reports/gates.js";
import { renderReport } from "../../src/reports/index.js";
import { renderJunit } from "../../src/reports/junit.js";
import { buildReport, REPORT_SCHEMA, runReportSchema } from "../../src/reports/model.js";
import { recordedRun } from "../support/journal.js";

const source = `version: 1
name: report-test
description: a <synthetic> run & its report
tags: [unit]
load: { rate: 10/s }
steadyState:
  window: 2s
  checks:
    - { name: p99 under 100ms, metric: latency.p99, below: 100ms }
    - { name: "errors | under 1%", metric: errors.rate, below: 1% }
method:
  - { fault: latency, target: edge-1, latency: 150ms, for: 4s }
`;

const at = (second: number) => new Date(1_000_000 + second * 1000).toISOString();

/** A run whose p99 breaks in the first inject window and recovers; one fault applied and reverted. */
function journal(slowSeconds: number[] = [5, 6]): JournalEvent[] {
  const events = recordedRun(source, slowSeconds);
  const started = events[0];
  if (started?.type !== "run-started") throw new Error("synthetic journal starts with run-started");
  started.experiment.file = "experiments/report-test.yaml";
  return [
    ...events,
    {
      at: at(5),
      type: "fault-intent",
      id: "f1",
      fault: "latency",
      target: "edge-1",
      description: "latency 150ms on link edge-1 (downstream)",
      params: {},
    },
    { at: at(5), type: "fault-applied", id: "f1", second: 5 },
    { at: at(9), type: "fault-reverted", id: "f1", second: 9 },
    { at: at(20), type: "run-finished", durationMs: 20_000 },
  ];
}

describe("the run report model", () => {
  it("is computed from the journal alone and matches its versioned schema", () => {
    const report = buildReport(journal());
    expect(runReportSchema.parse(report)).toEqual(report);
    expect(report.schema).toBe(REPORT_SCHEMA);
    expect(report.verdict).toMatchObject({ verdict: "degraded", exitCode: 5 });
    expect(report.run.experiment).toEqual({
      name: "report-test",
      file: "experiments/report-test.yaml",
      description: "a <synthetic> run & its report",
      tags: ["unit"],
    });
    const p99 = report.checks[0];
    expect(p99?.broke).toBe(true);
    expect(p99?.phases.inject).toMatchObject({ windows: 2, held: 1 });
    expect(p99?.windows.find((w) => w.phase === "inject" && w.ok === false)).toMatchObject({
      start: 5,
      end: 7,
    });
    expect(report.checks[1]?.broke).toBe(false);
    expect(report.faults).toEqual([
      expect.objectContaining({ id: "f1", appliedSecond: 5, revertedSecond: 9, error: null }),
    ]);
    expect(report.series.second).toHaveLength(19);
    expect(report.series.p99[5]).toBeCloseTo(300, 0);
    expect(report.score?.value).toBeGreaterThan(0);
  });

  it("refuses a journal that did not record its experiment", () => {
    const events = journal();
    const started = events[0];
    if (started?.type === "run-started") delete started.experiment.source;
    expect(() => buildReport(events)).toThrow(/recorded without its experiment/);
  });
});

describe("JUnit XML", () => {
  it("is well-formed, has a case per check with measured value vs threshold, and counts right", () => {
    const report = buildReport(journal());
    const gates = evaluateGates(report, { failUnder: 99 });
    const xml = renderJunit([{ report, gates }]);
    expect(XMLValidator.validate(xml)).toBe(true);
    const parsed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" }).parse(xml);
    const suite = parsed.testsuites.testsuite;
    expect(suite.name).toBe("report-test");
    // verdict (degraded: failure), 2 checks (p99 broke), 1 gate (score below 99).
    expect(suite.tests).toBe("4");
    expect(suite.failures).toBe("3");
    expect(parsed.testsuites.failures).toBe("3");
    const cases = suite.testcase as { name: string; failure?: { message: string } }[];
    const p99 = cases.find((c) => c.name === "p99 under 100ms");
    expect(p99?.failure?.message).toMatch(
      /^measured inject: 30\d(\.\d)?ms against below 100ms \(1\/2 windows held\)/,
    );
    expect(cases.find((c) => c.name === "errors | under 1%")?.failure).toBeUndefined();
    expect(cases.find((c) => c.name === "score at least 99")?.failure?.message).toMatch(
      /^score [\d.]+ < 99$/,
    );
  });
});

describe("escaping", () => {
  it("JUnit drops control characters (a probe's ANSI output) and stays well-formed", () => {
    const events = journal();
    const report = buildReport(events);
    const check = report.checks[0];
    if (check?.windows[0]) check.windows[0].detail = "\u001b[31mred\u001b[0m & <tags>";
    const xml = renderJunit([{ report }]);
    expect(xml).not.toContain("\u001b");
    expect(XMLValidator.validate(xml)).toBe(true);
  });

  it("Markdown makes check names inert and shows the process's exit code when given", () => {
    const report = buildReport(journal());
    if (report.checks[0]) report.checks[0].name = "p99 <b>*bold*</b> `code` [x]";
    const md = renderReport(report, "md", { exitCode: 7 });
    expect(md.split("\n")[0]).toContain("(exit 7)");
    expect(md).toContain("p99 &lt;b&gt;\\*bold\\*&lt;/b&gt; \\`code\\` \\[x\\]");
  });
});

describe("Markdown and HTML", () => {
  it("Markdown leads with the verdict and score and escapes table cells", () => {
    const md = renderReport(buildReport(journal()), "md");
    expect(md.split("\n")[0]).toMatch(/^## 🟡 report-test: DEGRADED \(exit 5\), score [\d.]+\/100$/);
    expect(md).toContain("| errors \\| under 1% |");
    expect(md).toContain("| f1 latency | edge-1 |");
  });

  it("HTML is self-contained: the chart library and the report are inlined, text is escaped", () => {
    const html = renderReport(buildReport(journal()), "html");
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+href=/);
    expect(html).toContain("Chart.js");
    expect(html).toContain('id="chart-latency"');
    expect(html).toContain("<title>report-test: degraded · Faultline</title>");
    // The embedded JSON cannot close its script element early.
    const embedded = /<script type="application\/json" id="faultline-report">([\s\S]*?)<\/script>/.exec(
      html,
    )?.[1];
    expect(embedded).toBeDefined();
    expect(embedded).not.toContain("<");
    expect(runReportSchema.parse(JSON.parse(embedded ?? "{}")).run.experiment.description).toBe(
      "a <synthetic> run & its report",
    );
  });
});

describe("CI gates", () => {
  const baseline = buildReport(journal([]));
  const current = buildReport(journal([5, 6, 7, 8]));

  it("an equal run passes the baseline gates", () => {
    const gates = evaluateGates(baseline, { baseline });
    expect(gates.length).toBeGreaterThan(0);
    expect(gates.every((g) => g.ok)).toBe(true);
  });

  it("a regressed run fails on its score and on the check that regressed, naming the figures", () => {
    const gates = evaluateGates(current, { baseline, scoreTolerance: 5, checkTolerance: 0.1 });
    const byName = Object.fromEntries(gates.map((g) => [g.name, g]));
    const against = `against ${baseline.run.id}`;
    expect(byName[`score not regressed ${against}`]?.ok).toBe(false);
    expect(byName[`check "p99 under 100ms" not regressed ${against}`]).toMatchObject({
      ok: false,
      message: expect.stringContaining("inject: held 0% of windows, 100% before"),
    });
    expect(byName[`check "errors | under 1%" not regressed ${against}`]?.ok).toBe(true);
  });

  it("--fail-under fails a run without a score", () => {
    const events = journal().filter((e) => e.type !== "phase" || e.phase !== "baseline");
    const [gate] = evaluateGates(buildReport(events), { failUnder: 10 });
    expect(gate).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^no score: the run was inconclusive/),
    });
  });
});

describe("docs/report.schema.json", () => {
  it("is the JSON Schema of the report model (regenerate with `npm run schema`)", async () => {
    const { readFileSync } = await import("node:fs");
    const { reportJsonSchema } = await import("../../src/reports/model.js");
    expect(readFileSync(new URL("../../docs/report.schema.json", import.meta.url), "utf8")).toBe(
      reportJsonSchema(),
    );
  });
});
