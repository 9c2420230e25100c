import { XMLBuilder } from "fast-xml-parser";
import { formatValue } from "../steady-state/checks.js";
import type { RunReport } from "./model.js";

// JUnit XML for CI systems: one test case per check (a failure carries the measured value
// against the threshold), one for the verdict, and one per gate the caller evaluated.

export interface GateResult {
  name: string;
  ok: boolean;
  message: string;
}

/** What the caller knows beyond the journal: the gates it evaluated and the exit code it chose. */
export interface RenderContext {
  gates?: readonly GateResult[];
  /** The process's exit code for this run (gates, --accept-degraded); default: the verdict's. */
  exitCode?: number;
}

type Case = {
  "@_name": string;
  "@_classname": string;
  "@_time": string;
  failure?: { "@_message": string; "@_type": string; "#text": string };
  error?: { "@_message": string; "@_type": string; "#text": string };
  skipped?: { "@_message": string };
  "system-out"?: string;
};

type Check = RunReport["checks"][number];

/** XML 1.0 has no place for control characters (a command probe's ANSI output has some). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point: they are removed.
const xmlText = (text: string) => text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g, "");

function phaseLines(check: Check): string[] {
  return check.windows.map(
    (w) =>
      `${w.phase} ${w.start}-${w.end}s: ${formatValue(check.metric, w.value ?? undefined)} ${w.ok === false ? (w.tolerated ? "breach tolerated (allowFor)" : "BREACH") : w.ok === null ? `no data${w.detail ? ` (${w.detail})` : ""}` : "held"}`,
  );
}

function checkCase(report: RunReport, check: Check, classname: string): Case {
  const base: Case = {
    "@_name": check.name,
    "@_classname": classname,
    "@_time": "0",
    "system-out": phaseLines(check).join("\n"),
  };
  const rule = `${check.comparator} ${check.thresholdText}`;
  const baseline = check.phases.baseline;
  if (report.verdict.verdict === "inconclusive" && baseline && baseline.held < baseline.windows) {
    return {
      ...base,
      error: {
        "@_message": `did not hold at baseline: ${formatValue(check.metric, baseline.worst ?? undefined)} against ${rule} (${baseline.held}/${baseline.windows} windows held); no fault was injected`,
        "@_type": "baseline",
        "#text": phaseLines(check).join("\n"),
      },
    };
  }
  if (check.broke) {
    const phases = (["inject", "recover", "verify"] as const).flatMap((phase) => {
      const s = check.phases[phase];
      if (!s || s.held === s.windows - s.noData) return [];
      return [
        `${phase}: ${formatValue(check.metric, s.worst ?? undefined)} against ${rule} (${s.held}/${s.windows} windows held)`,
      ];
    });
    return {
      ...base,
      failure: {
        "@_message": `measured ${phases.join("; ")}`,
        "@_type": "breach",
        "#text": phaseLines(check).join("\n"),
      },
    };
  }
  const withData = check.windows.filter((w) => w.value !== null).length;
  if (check.windows.length > 0 && withData === 0) {
    return { ...base, skipped: { "@_message": "no data in any window" } };
  }
  return base;
}

function junitSuite(report: RunReport, gates: readonly GateResult[], exitCode: number) {
  const experiment = report.run.experiment.name;
  const classname = `faultline.${experiment}`;
  const { verdict, reason } = report.verdict;
  const verdictCase: Case = { "@_name": "verdict", "@_classname": classname, "@_time": "0" };
  if (verdict === "failed" || verdict === "aborted" || verdict === "degraded") {
    verdictCase.failure = { "@_message": `${verdict}: ${reason}`, "@_type": verdict, "#text": reason };
  } else if (verdict !== "passed") {
    verdictCase.error = { "@_message": `${verdict}: ${reason}`, "@_type": verdict, "#text": reason };
  } else {
    verdictCase["system-out"] = reason;
  }
  const cases: Case[] = [
    verdictCase,
    ...report.checks.map((c) => checkCase(report, c, classname)),
    ...gates.map(
      (g): Case => ({
        "@_name": g.name,
        "@_classname": `${classname}.gates`,
        "@_time": "0",
        ...(g.ok
          ? { "system-out": g.message }
          : { failure: { "@_message": g.message, "@_type": "gate", "#text": g.message } }),
      }),
    ),
  ];
  const count = (key: "failure" | "error" | "skipped") => cases.filter((c) => c[key] !== undefined).length;
  const seconds = ((report.run.durationMs ?? 0) / 1000).toFixed(3);
  const suite = {
    "@_name": experiment,
    "@_tests": String(cases.length),
    "@_failures": String(count("failure")),
    "@_errors": String(count("error")),
    "@_skipped": String(count("skipped")),
    "@_time": seconds,
    "@_timestamp": report.run.startedAt,
    properties: {
      property: [
        { "@_name": "run", "@_value": report.run.id },
        { "@_name": "verdict", "@_value": verdict },
        { "@_name": "exitCode", "@_value": String(exitCode) },
        { "@_name": "score", "@_value": report.score ? String(report.score.value) : "none" },
        { "@_name": "replica", "@_value": report.run.replica },
        { "@_name": "seed", "@_value": String(report.run.seed) },
        { "@_name": "file", "@_value": report.run.experiment.file },
      ],
    },
    testcase: cases,
  };
  return suite;
}

/** One test suite per run (a suite of experiments gives several). */
export function renderJunit(
  runs: readonly { report: RunReport; gates?: readonly GateResult[]; exitCode?: number }[],
): string {
  const suites = runs.map((r) =>
    junitSuite(r.report, r.gates ?? [], r.exitCode ?? r.report.verdict.exitCode),
  );
  const total = (key: "@_tests" | "@_failures" | "@_errors" | "@_skipped") =>
    String(suites.reduce((sum, s) => sum + Number(s[key]), 0));
  const builder = new XMLBuilder({
    ignoreAttributes: false,
    attributeNamePrefix: "@_",
    format: true,
    indentBy: "  ",
    suppressEmptyNode: true,
  });
  const body: string = builder.build({
    testsuites: {
      "@_name": "faultline",
      "@_tests": total("@_tests"),
      "@_failures": total("@_failures"),
      "@_errors": total("@_errors"),
      "@_skipped": total("@_skipped"),
      "@_time": suites.reduce((sum, s) => sum + Number(s["@_time"]), 0).toFixed(3),
      testsuite: suites,
    },
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n${xmlText(body)}`;
}
