import { spawn } from "node:child_process";
import { mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stateDir } from "./state.js";

/**
 * After a fault's planned end, how long Faultline has to revert it before a dead-man's switch
 * does: the watchdog process, and the self-expiring helpers inside the replica (netfilter
 * sidecars, stress processes, the origin's brownout config).
 */
export const WATCHDOG_GRACE_MS = 10_000;

/** Seconds a self-expiring helper should live: until the fault's planned end plus the grace. */
export function deadManSeconds(revertBy: number, now = Date.now()): number {
  return Math.max(1, Math.ceil((revertBy - now + WATCHDOG_GRACE_MS) / 1000));
}

/**
 * Starts the run's watchdog: a detached process (own session) that outlives the CLI. Its log
 * goes to the replica's state folder.
 */
export function startWatchdog(replica: string, runId: string): { pid: number | undefined; log: string } {
  const main = fileURLToPath(new URL("../../dist/recovery/watchdog-main.js", import.meta.url));
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
