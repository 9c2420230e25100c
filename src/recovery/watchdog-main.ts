import { rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { errorMessage } from "../errors.js";
import { clearEntry, readLedger } from "../lifecycle/ledger.js";
import { readLock } from "../lifecycle/lock.js";
import { isAlive, stateDir } from "../lifecycle/state.js";
import { WATCHDOG_GRACE_MS } from "../lifecycle/watchdog.js";
import { removeAttachSeries } from "../replica/attach-series.js";
import { connectReplica } from "../replica/replica.js";
import { revertEntry } from "./recover.js";

// The dead-man's switch: `node watchdog-main.js <replica> <run-id> <cli-pid>`, started detached
// by a run. While the CLI lives and keeps to its timeline, it only watches. It reverts the
// run's outstanding ledger entries when the CLI has died, or when an entry has outlived its
// planned end by the grace period (a hung CLI); when the CLI has died, it also removes the
// run's series container on an attached stack. It exits when the run has nothing left, or
// when reverting has failed for GIVE_UP_MS on end (the Docker engine gone, say): the ledger
// keeps what is left for `faultline recover`.

const GIVE_UP_MS = 5 * 60_000;

const [replicaName, runId, pidText] = process.argv.slice(2);
const log = (message: string) =>
  process.stdout.write(`${new Date().toISOString()} watchdog ${runId}: ${message}\n`);

async function main(): Promise<void> {
  if (!replicaName || !runId || !pidText)
    throw new Error("usage: watchdog-main <replica> <run-id> <cli-pid>");
  const cliPid = Number(pidText);
  log(`watching pid ${cliPid} on replica ${replicaName}`);
  let reverted = false;
  let failingSince: number | undefined;
  for (;;) {
    const { entries } = readLedger(replicaName, runId);
    const cliAlive = isAlive(cliPid);
    const holder = readLock(replicaName);
    const lockHeld = holder?.runId === runId;
    if (entries.length === 0 && (!cliAlive || !lockHeld)) {
      // A dead run's series container on an attached stack, unless another run holds it now.
      if (!cliAlive && (!holder || lockHeld || !isAlive(holder.pid)) && (await removeSeries()))
        reverted = true;
      if (cliAlive || !reverted) {
        // Nothing happened worth keeping a record of.
        rmSync(join(stateDir(replicaName), `watchdog-${runId}.log`), { force: true });
      } else {
        log("every outstanding fault reverted");
      }
      return;
    }
    if (!cliAlive && holder && !lockHeld && isAlive(holder.pid)) {
      // Another process holds the replica (`faultline recover`, or a run with --recover): it
      // reverts the same ledger; two at once would race.
      await sleep(500);
      continue;
    }
    const now = Date.now();
    const due = entries.filter((e) => !cliAlive || now > e.revertBy + WATCHDOG_GRACE_MS);
    if (due.length > 0) {
      log(
        `${cliAlive ? "cli is late" : `cli (pid ${cliPid}) is gone`}; reverting ${due.map((e) => e.faultId).join(", ")}`,
      );
      let failed = false;
      try {
        const replica = await connectReplica(replicaName);
        for (const entry of due) {
          try {
            log(`${entry.faultId}: ${await revertEntry(entry, replica)}`);
            clearEntry(entry.replica, entry.runId, entry.faultId);
            reverted = true;
          } catch (error) {
            failed = true;
            log(`${entry.faultId}: revert failed, will retry: ${errorMessage(error)}`);
          }
        }
      } catch (error) {
        failed = true;
        log(`cannot reach the replica, will retry: ${errorMessage(error)}`);
      }
      failingSince = failed ? (failingSince ?? now) : undefined;
      if (failingSince !== undefined && Date.now() - failingSince > GIVE_UP_MS) {
        log(
          `giving up after ${GIVE_UP_MS / 60_000} min of failed reverts; the ledger keeps them: run \`faultline recover --replica ${replicaName}\``,
        );
        process.exit(1);
      }
    }
    // While reverts fail, retry every 2 s rather than every 0.5 s.
    await sleep(failingSince === undefined ? 500 : 2000);
  }
}

/** Removes the run's series container (an attached stack's); true when there was one. */
async function removeSeries(): Promise<boolean> {
  try {
    const removed = await removeAttachSeries({ replica: replicaName ?? "" }, runId);
    if (removed) log("removed the run's series container");
    return removed;
  } catch (error) {
    log(`the run's series container: ${errorMessage(error)} (it exits by itself within a minute)`);
    return false;
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(`stopped: ${errorMessage(error)}`);
    process.exit(1);
  },
);
