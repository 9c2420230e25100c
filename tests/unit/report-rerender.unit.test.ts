import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { JournalEvent } from "../../src/journal/journal.js";
import { journalContext, loadReport, renderReport } from "../../src/reports/index.js";
import { latencyExperiment, recordedRun } from "../support/journal.js";
import { tempDir } from "../support/temp.js";

function runJournal(extra: JournalEvent[]): string {
  const events = recordedRun(latencyExperiment("rerender-test"));
  const at = new Date(0).toISOString();
  const all: JournalEvent[] = [...events, { at, type: "run-finished", durationMs: 19_000 }, ...extra];
  const dir = tempDir("faultline-rerender-");
  writeFileSync(join(dir, "journal.jsonl"), all.map((e) => `${JSON.stringify(e)}\n`).join(""));
  return dir;
}

const gates: JournalEvent = {
  at: new Date(0).toISOString(),
  type: "gates",
  gates: [
    { name: "score at least 101", ok: false, message: "score 100 < 101" },
    { name: "go: verdict", ok: true, message: "passed" },
  ],
  exitCode: 7,
};

describe("faultline report RUN re-renders with the run's gates", () => {
  it("reads the gates and the exit code from the journal's gates event", () => {
    const { report, context } = loadReport(runJournal([gates]), "runs");
    expect(context).toEqual({ gates: gates.type === "gates" ? gates.gates : [], exitCode: 7 });
    const json = JSON.parse(renderReport(report, "json", context));
    expect(json).toMatchObject({
      exitCode: 7,
      gates: [{ name: "score at least 101", ok: false }, { ok: true }],
    });
    expect(renderReport(report, "md", context)).toContain("score at least 101");
    expect(renderReport(report, "junit", context)).toContain("score at least 101");
    expect(renderReport(report, "html", context)).toContain("<h2>Gates</h2>");
  });

  it("renders a run without gates as before", () => {
    const { report, context } = loadReport(runJournal([]), "runs");
    expect(context).toEqual({});
    const json = JSON.parse(renderReport(report, "json", context));
    expect(json.gates).toBeUndefined();
    expect(json.exitCode).toBeUndefined();
  });

  it("takes the last gates event", () => {
    const later: JournalEvent = { ...gates, exitCode: 0, gates: [] };
    expect(journalContext([gates, later])).toEqual({ gates: [], exitCode: 0 });
  });
});
