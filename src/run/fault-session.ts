import { errorMessage } from "../errors.js";
import type { PlannedAction } from "../experiments/plan.js";
import { kindOf } from "../faults/registry.js";
import type { Journal } from "../journal/journal.js";
import { type CleanupEntry, CleanupRegistry } from "../lifecycle/cleanup-registry.js";
import { clearEntry, type LedgerEntry, writeIntent } from "../lifecycle/ledger.js";
import { startWatchdog } from "../lifecycle/watchdog.js";
import { revertEntry } from "../recovery/recover.js";
import type { Replica } from "../replica/replica.js";

/**
 * Applies planned actions to a replica the one safe way, for `run` and `inject` alike:
 * watchdog started before the first fault, ledger intent and journal intent written before
 * the injector runs, revert registered in the cleanup registry, ledger cleared after the
 * revert. The caller must hold the replica's lock.
 */
export class FaultSession {
  readonly registry = new CleanupRegistry();
  private watchdogStarted = false;
  /** Fault id -> service, from the intent until the revert succeeded. */
  private readonly active = new Map<string, string>();

  constructor(
    private readonly replica: Replica,
    private readonly runId: string,
    private readonly journal: Journal,
    private readonly options: { watchdog: boolean; second: () => number },
  ) {}

  /** Services that a fault of this session may have changed right now (applied, not yet reverted). */
  touchedServices(): ReadonlySet<string> {
    return new Set(this.active.values());
  }

  async apply(action: PlannedAction, revertBy: number): Promise<CleanupEntry> {
    const { replica, runId, journal } = this;
    const replicaName = replica.topology.replica;
    const injector = kindOf(action.fault);
    const { fault: kind, target: _target, ...params } = action.fault;
    if (this.options.watchdog && !this.watchdogStarted) {
      this.watchdogStarted = true;
      const watchdog = startWatchdog(replicaName, runId);
      journal.write({ type: "watchdog", pid: watchdog.pid ?? 0, log: watchdog.log });
    }
    // Write-ahead: the intent is on disk (ledger and journal) before anything touches the replica.
    const ledgerEntry: LedgerEntry = {
      runId,
      faultId: action.id,
      replica: replicaName,
      kind,
      service: action.service,
      description: action.description,
      params,
      intentAt: new Date().toISOString(),
      revertBy,
      pid: process.pid,
    };
    writeIntent(ledgerEntry);
    this.active.set(action.id, action.service);
    journal.write({
      type: "fault-intent",
      id: action.id,
      fault: kind,
      target: action.service,
      description: action.description,
      params,
      disruptive: action.disruptive,
    });
    let handle: Awaited<ReturnType<typeof injector.apply>>;
    try {
      handle = await injector.apply(action.fault, {
        replica,
        runId,
        faultId: action.id,
        service: action.service,
        revertBy,
      });
    } catch (error) {
      journal.write({ type: "fault-apply-failed", id: action.id, error: errorMessage(error) });
      // The injector undid its partial work; make sure, then clear the intent.
      await revertEntry(ledgerEntry, replica)
        .then(() => {
          clearEntry(replicaName, runId, action.id);
          this.active.delete(action.id);
        })
        .catch(() => {});
      throw error;
    }
    const entry = this.registry.register(handle.description, async () => {
      try {
        await handle.revert();
      } catch (error) {
        journal.write({ type: "fault-revert-failed", id: action.id, error: errorMessage(error) });
        throw error;
      }
      clearEntry(replicaName, runId, action.id);
      this.active.delete(action.id);
      journal.write({ type: "fault-reverted", id: action.id, second: this.options.second() });
    });
    journal.write({
      type: "fault-applied",
      id: action.id,
      second: this.options.second(),
      ...(handle.details ? { details: handle.details } : {}),
    });
    return entry;
  }
}
