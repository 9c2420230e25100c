import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openHistory } from "../../src/history/open.js";
import { readJournal } from "../../src/journal/journal.js";
import { finishLostRun } from "../../src/run/finish-lost.js";
import { latencyExperiment, recordedRun } from "../support/journal.js";
import { tempDir } from "../support/temp.js";

// A run whose worker died mid-run is closed from its journal: the reason as an error, the
// verdict that fits (errored, exit 4), the reports and one history row; closing it twice
// changes nothing.

describe("finishLostRun", () => {
  it("journals why, the verdict errored, writes the reports and the history row, once", async () => {
    const dir = tempDir("faultline-lost-");
    const journalPath = join(dir, "journal.jsonl");
    // The journal as the worker left it: up to the inject phase, no verdict.
    const events = recordedRun(latencyExperiment("lost-run")).filter(
      (e) => e.type !== "metrics" || e.second < 7,
    );
    writeFileSync(journalPath, events.map((e) => `${JSON.stringify(e)}\n`).join(""));
    const history = join(dir, "history.db");
    const first = await finishLostRun({ journalPath, reason: "the worker was lost", history });
    const second = await finishLostRun({ journalPath, reason: "the worker was lost", history });
    const written = readJournal(journalPath);
    const store = await openHistory(history);
    const rows = await store.list();
    await store.close();
    expect(first.evaluation).toMatchObject({
      verdict: "errored",
      exitCode: 4,
      reason: "the worker was lost",
    });
    expect(first.experiment).toBe("lost-run");
    expect(Object.keys(first.reports ?? {}).sort()).toEqual(["html", "json", "junit", "md"]);
    expect(written.filter((e) => e.type === "verdict")).toHaveLength(1);
    expect(written.slice(-3).map((e) => e.type)).toEqual(["error", "verdict", "run-finished"]);
    expect(second.evaluation.verdict).toBe("errored");
    expect(rows.map((r) => r.verdict)).toEqual(["errored"]);
  });
});
