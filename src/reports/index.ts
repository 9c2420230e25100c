import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { InvalidInputError } from "../errors.js";
import { type JournalEvent, readJournal } from "../journal/journal.js";
import { renderHtml } from "./html.js";
import { type GateResult, type RenderContext, renderJunit } from "./junit.js";
import { renderMarkdown } from "./markdown.js";
import { buildReport, type RunReport } from "./model.js";

export const reportFormats = ["json", "junit", "md", "html"] as const;
export type ReportFormat = (typeof reportFormats)[number];

/** The files a run folder holds next to its journal. */
export const reportFiles: Record<ReportFormat, string> = {
  json: "report.json",
  junit: "junit.xml",
  md: "report.md",
  html: "report.html",
};

/** The JSON report: the model, and the gates and exit code when the run had them. */
export function reportJson(
  report: RunReport,
  context: RenderContext = {},
): RunReport & { gates?: readonly GateResult[]; exitCode?: number } {
  const gates = context.gates ?? [];
  return {
    ...report,
    ...(gates.length ? { gates } : {}),
    ...(context.exitCode === undefined ? {} : { exitCode: context.exitCode }),
  };
}

export function renderReport(report: RunReport, format: ReportFormat, context: RenderContext = {}): string {
  const gates = context.gates ?? [];
  switch (format) {
    case "json":
      return `${JSON.stringify(reportJson(report, context), null, 2)}\n`;
    case "junit":
      return renderJunit([
        { report, gates, ...(context.exitCode === undefined ? {} : { exitCode: context.exitCode }) },
      ]);
    case "md":
      return renderMarkdown(report, context);
    case "html":
      return renderHtml(report, context);
  }
}

/** Writes every format into the run's folder; returns the paths by format. */
export function writeRunReports(
  runDir: string,
  report: RunReport,
  context: RenderContext = {},
): Record<ReportFormat, string> {
  mkdirSync(runDir, { recursive: true });
  const written = {} as Record<ReportFormat, string>;
  for (const format of reportFormats) {
    const path = join(runDir, reportFiles[format]);
    writeFileSync(path, renderReport(report, format, context));
    written[format] = path;
  }
  return written;
}

/**
 * A run named by its id (a folder of `runsDir`), its folder, or its journal file: the path of
 * its journal.
 */
export function resolveJournal(ref: string, runsDir: string): string {
  const candidates = [ref, join(runsDir, ref)];
  for (const candidate of candidates) {
    if (!existsSync(candidate)) continue;
    const path = statSync(candidate).isDirectory() ? join(candidate, "journal.jsonl") : candidate;
    if (existsSync(path)) return path;
  }
  throw new InvalidInputError(
    `no run "${ref}": neither a run id in ${runsDir}/, a run folder, nor a journal file`,
    {
      suggestion: "`faultline history` lists past runs and their ids",
    },
  );
}

/** The gates and exit code a run was reported with, from its journal's gates event (none: {}). */
export function journalContext(events: readonly JournalEvent[]): RenderContext {
  const judged = events.findLast((e) => e.type === "gates");
  if (judged?.type !== "gates") return {};
  return { gates: judged.gates, exitCode: judged.exitCode };
}

/** A past run's report, and the gates and exit code its reports were written with. */
export function loadReport(
  ref: string,
  runsDir: string,
): { report: RunReport; runDir: string; context: RenderContext } {
  const journal = resolveJournal(ref, runsDir);
  let events: ReturnType<typeof readJournal>;
  try {
    events = readJournal(journal);
  } catch (error) {
    throw new InvalidInputError(`${journal}: ${error instanceof Error ? error.message : String(error)}`, {
      suggestion: `is ${basename(journal)} a Faultline journal?`,
    });
  }
  return { report: buildReport(events), runDir: dirname(journal), context: journalContext(events) };
}
