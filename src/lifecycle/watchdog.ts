import { spawn } from "node:child_process";
import { mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stateDir } from "./state.js";

/** After a fault's planned end, how long Faultline has to revert it before the watchdog does. */
export const WATCHDOG_GRACE_MS = 10_000;

/**
 * Starts the run's watchdog: a detached process (own session) that outlives the CLI. Its log
 * goes to the replica's state folder.
 */
export function startWatchdog(replica: string, runId: string): { pid: number | undefined; log: string } {
  const main = fileURLToPath(new URL("../../dist/lifecycle/watchdog-main.js", import.meta.url));
  mkdirSync(stateDir(replica), { recursive: true });
  const log = join(stateDir(replica), `watchdog-${runId}.log`);
  const fd = openSync(log, "a");
  const child = spawn(process.execPath, [main, replica, runId, String(process.pid)], {
    detached: true,
    stdio: ["ignore", fd, fd],
    env: process.env,
  });
  child.unref();
  return { pid: child.pid, log };
}
