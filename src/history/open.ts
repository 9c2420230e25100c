import { existsSync } from "node:fs";
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
  return PostgresHistory.open(checkedUrl(location));
}

/**
 * Opens the history to read it only (doctor): undefined where it is not there yet (no SQLite
 * file; a PostgreSQL database without Faultline's tables). Creates and changes nothing.
 */
export async function readHistory(location: string): Promise<HistoryStore | undefined> {
  if (!isSharedHistory(location)) return existsSync(location) ? SqliteHistory.open(location) : undefined;
  return PostgresHistory.read(checkedUrl(location));
}

/** A PostgreSQL URL with a host, or a Unix socket folder in `?host=`. */
function checkedUrl(location: string): string {
  const url = URL.canParse(location) ? new URL(location) : undefined;
  if (url && (url.hostname !== "" || url.searchParams.has("host"))) return location;
  throw new InvalidInputError(`the history URL ${redactUrl(location)} is not a PostgreSQL URL`, {
    suggestion: "write it as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE",
  });
}
