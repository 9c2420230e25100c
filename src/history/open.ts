import { join } from "node:path";
import { InvalidInputError } from "../errors.js";
import { PostgresHistory, redactUrl } from "./postgres.js";
import { SqliteHistory } from "./sqlite.js";
import type { HistoryStore } from "./store.js";

// Where the run history is: a PostgreSQL URL (postgres:// or postgresql://), shared by every
// run given it, or a SQLite file, by default <runs-dir>/history.db.

const POSTGRES = /^postgres(ql)?:\/\//;

/** The history's location: the one given (--history, FAULTLINE_HISTORY), else the runs folder's file. */
export function historyLocation(given: string | undefined, runsDir: string): string {
  return given && given.trim() !== "" ? given : join(runsDir, "history.db");
}

/** A PostgreSQL URL, not a file. */
export const isSharedHistory = (location: string) => POSTGRES.test(location);

/** The location as messages show it (a URL without its password). */
export const describeHistory = (location: string) =>
  isSharedHistory(location) ? redactUrl(location) : location;

/** Opens the history at `location`; an unreachable server or unwritable file is an EnvironmentError. */
export async function openHistory(location: string): Promise<HistoryStore> {
  if (!isSharedHistory(location)) return SqliteHistory.open(location);
  if (!URL.canParse(location) || new URL(location).hostname === "")
    throw new InvalidInputError(`the history URL ${redactUrl(location)} is not a PostgreSQL URL`, {
      suggestion: "write it as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE",
    });
  return PostgresHistory.open(location);
}
