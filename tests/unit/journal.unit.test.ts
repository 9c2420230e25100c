import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Journal, type JournalEvent, readJournal } from "../../src/journal/journal.js";
import { tempDir } from "../support/temp.js";

describe("Journal listeners", () => {
  it("a listener that throws breaks neither the write, the file, nor the listeners after it", () => {
    const failures: { error: unknown; event: JournalEvent }[] = [];
    const path = join(tempDir("faultline-journal-"), "journal.jsonl");
    const journal = new Journal(path, undefined, (error, event) => failures.push({ error, event }));
    const heard: string[] = [];
    journal.onEvent(() => {
      throw new Error("a broken progress view");
    });
    journal.onEvent((e) => heard.push(e.type));

    expect(() => journal.write({ type: "phase", phase: "baseline", second: 5 })).not.toThrow();
    expect(() => journal.write({ type: "run-finished", durationMs: 10 })).not.toThrow();

    expect(heard).toEqual(["phase", "run-finished"]);
    expect(readJournal(path).map((e) => e.type)).toEqual(["phase", "run-finished"]);
    // Reported once per listener, with the first event it failed on.
    expect(failures).toHaveLength(1);
    expect(String(failures[0]?.error)).toMatch(/broken progress view/);
    expect(failures[0]?.event.type).toBe("phase");
  });

  it("ignores a failing listener by default, and a failing error hook too", () => {
    const dir = tempDir("faultline-journal-");
    const quiet = new Journal(join(dir, "a.jsonl"));
    quiet.onEvent(() => {
      throw new Error("boom");
    });
    expect(() => quiet.write({ type: "error", message: "x" })).not.toThrow();

    const loud = new Journal(join(dir, "b.jsonl"), undefined, () => {
      throw new Error("the hook fails as well");
    });
    loud.onEvent(() => {
      throw new Error("boom");
    });
    expect(() => loud.write({ type: "error", message: "x" })).not.toThrow();
  });

  it("reads back the gates event", () => {
    const path = join(tempDir("faultline-journal-"), "journal.jsonl");
    const journal = new Journal(path);
    journal.write({
      type: "gates",
      gates: [{ name: "score at least 90", ok: false, message: "score 80 < 90" }],
      exitCode: 7,
    });
    expect(readJournal(path)).toMatchObject([
      { type: "gates", exitCode: 7, gates: [{ name: "score at least 90", ok: false }] },
    ]);
  });
});
