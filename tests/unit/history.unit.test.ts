import { join } from "node:path";
import { describe } from "vitest";
import { openHistory } from "../../src/history/open.js";
import { historyConformance } from "../support/history-conformance.js";
import { tempDir } from "../support/temp.js";

describe("the SQLite history", () => {
  historyConformance(() => openHistory(join(tempDir("faultline-history-"), "history.db")));
});
