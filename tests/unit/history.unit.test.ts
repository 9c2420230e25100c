import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { describeHistory, openHistory } from "../../src/history/open.js";
import { historyConformance } from "../support/history-conformance.js";
import { tempDir } from "../support/temp.js";

describe("the SQLite history", () => {
  historyConformance(() => openHistory(join(tempDir("faultline-history-"), "history.db")));
});

describe("a PostgreSQL URL in messages", () => {
  it("never shows its password, in the user part or as a parameter", () => {
    expect(describeHistory("postgres://fl:s3cret@db:5432/h?password=t0ken&sslmode=require")).toBe(
      "postgres://fl:***@db:5432/h?password=***&sslmode=require",
    );
    expect(describeHistory("runs/history.db")).toBe("runs/history.db");
  });
});
