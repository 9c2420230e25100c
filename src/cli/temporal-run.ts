import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { isSharedHistory, openHistory } from "../history/open.js";
import { newRunId } from "../run/runner.js";
import { checkSuite } from "../run/suite.js";
import { type GameDayInput, type GameDayOutcome, taskQueueFor } from "../scale/game-day.js";
import { checkEngineName, connectTemporal, haltGameDay, startGameDay } from "../scale/temporal-client.js";
import { type Printer, watchGameDay } from "./game-day-view.js";

/** The game day as `faultline run` was asked for it; paths as given (made absolute here). */
export type TemporalRunOptions = Omit<GameDayInput, "id" | "taskQueue"> & { address: string };

/**
 * `faultline run --temporal`: the suite is checked here (bad input starts nothing), then run as
 * a game day by the engine's worker and followed to its verdict. Ctrl-C halts the game day
 * (every fault reverted, exit 130); SIGTERM (a cancelled CI job) detaches and leaves it running.
 */
export async function runOnTemporal(
  out: Printer & { progress(message: string): void },
  options: TemporalRunOptions,
): Promise<GameDayOutcome | { id: string; detached: true }> {
  const { address, ...settings } = options;
  // Everything an in-process run checks before it starts, so that bad input starts nothing.
  const suite = await checkSuite(settings);
  const id = `gd-${newRunId(suite[0]?.experiment.name ?? "suite")}`;
  const engine = checkEngineName(settings.engine);
  // A shared history that does not answer from here stops the game day before it starts.
  if (settings.history !== undefined && isSharedHistory(settings.history))
    await (await openHistory(settings.history)).close();
  const client = await connectTemporal(address);
  const follow = new AbortController();
  let started = false;
  let haltAsked = false;
  const halt = () => void haltGameDay(client, id).catch(() => {});
  const onInt = () => {
    out.progress(`\nSIGINT: halting ${id} (every fault is reverted)…`);
    haltAsked = true;
    if (started) halt();
  };
  const onTerm = () => {
    out.progress(`\nSIGTERM: detaching; ${id} goes on (faultline watch ${id})`);
    follow.abort("SIGTERM");
  };
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  try {
    await startGameDay(client, gameDayInput(settings, id, engine));
    started = true;
    // Ctrl-C while it was being started: halted as soon as it exists.
    if (haltAsked) halt();
    out.progress(
      `game day ${id} started on ${address} (engine ${engine}): faultline watch ${id}, faultline halt ${id}`,
    );
    return await watchGameDay(out, client, id, follow.signal);
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
    await client.connection.close();
  }
}

/** What the worker is given: the CLI's paths made absolute (the worker reads them there). */
export function gameDayInput(
  settings: Omit<TemporalRunOptions, "address">,
  id: string,
  engine: string,
): GameDayInput {
  return {
    ...settings,
    id,
    engine,
    taskQueue: taskQueueFor(engine),
    paths: settings.paths.map((p) => resolve(p)),
    runsDir: resolve(settings.runsDir),
    topology: settings.topology ? resolve(settings.topology) : undefined,
    history: settings.history === undefined ? undefined : resolveHistory(settings.history),
    gates: { ...settings.gates, baseline: resolveBaseline(settings.gates.baseline) },
  };
}

/** A baseline given as a path (a run folder, a journal, a report.json) is read there by the worker. */
const resolveBaseline = (ref: string | undefined) => (ref && existsSync(ref) ? resolve(ref) : ref);

/** A SQLite file is the worker's to open: give it the path from here; a URL goes as it is. */
const resolveHistory = (location: string) => (isSharedHistory(location) ? location : resolve(location));
