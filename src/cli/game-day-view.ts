import type { Client } from "@temporalio/client";
import { ExitCode } from "../errors.js";
import type { GameDayOutcome, GameDayStatus } from "../scale/game-day.js";
import { followGameDay } from "../scale/temporal-client.js";
import { renderRun, renderSummary } from "./suite-render.js";

/**
 * The lines a game day's status adds since the last one seen: runs that reached their inject
 * phase, faults applied, reverted or skipped, a halt, a lost worker. `watch` and
 * `run --temporal` print them as they come.
 */
export function statusLines(previous: GameDayStatus | undefined, status: GameDayStatus): string[] {
  const lines: string[] = [];
  for (const runId of status.runs.slice(previous?.runs.length ?? 0))
    lines.push(`  run ${runId}: inject phase`);
  const before = new Map((previous?.faults ?? []).map((f) => [`${f.runId}/${f.actionId}`, f.state]));
  for (const fault of status.faults) {
    const was = before.get(`${fault.runId}/${fault.actionId}`);
    if (fault.state !== was && fault.state !== "pending")
      lines.push(`  ${fault.state.padEnd(8)} ${fault.actionId}: ${fault.description}`);
  }
  if (status.state !== previous?.state && status.state === "halting")
    lines.push("  halt: reverting every fault and ending the run interrupted");
  if (status.state !== previous?.state && status.state === "worker-lost")
    lines.push(`  the worker of engine ${status.engine} was lost`);
  return lines;
}

export interface Printer {
  log(message: string): void;
  jsonEnabled(): boolean;
}

/** Follows and prints a game day; sets the exit code (130 when the watch itself was stopped). */
export async function watchGameDay(
  out: Printer,
  client: Client,
  id: string,
  signal: AbortSignal,
): Promise<GameDayOutcome | { id: string; detached: true }> {
  let last: GameDayStatus | undefined;
  const print = (status: GameDayStatus) => {
    if (!out.jsonEnabled()) for (const line of statusLines(last, status)) process.stderr.write(`${line}\n`);
    last = status;
  };
  try {
    const outcome = await followGameDay(client, id, print, signal);
    if (!out.jsonEnabled()) {
      for (const run of outcome.runs) out.log(`\n${renderRun(run)}`);
      if (outcome.runs.length > 1 || outcome.readiness) out.log(`\n${renderSummary(outcome)}`);
      if (outcome.error) out.log(`\n${id}: ${outcome.error} (exit ${outcome.exitCode})`);
    }
    process.exitCode = outcome.exitCode;
    return outcome;
  } catch (error) {
    if (!signal.aborted) throw error;
    process.exitCode = ExitCode.interrupted;
    return { id, detached: true };
  }
}
