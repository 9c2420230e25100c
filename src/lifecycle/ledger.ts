import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { stateDir } from "./state.js";

// The fault ledger: one file per applied action, written (atomically) before the action
// touches the replica and deleted once it is reverted. Whatever a crash leaves here is what
// `faultline recover` and the watchdog revert. An entry holds what reverting needs (kind,
// service, run and fault ids); the fault's parameters are kept for the humans reading it.

export const ledgerEntrySchema = z.object({
  runId: z.string(),
  faultId: z.string(),
  replica: z.string(),
  kind: z.string(),
  service: z.string(),
  description: z.string(),
  /** The fault's parameters as planned, for people reading the ledger. */
  params: z.record(z.string(), z.unknown()),
  intentAt: z.string(),
  /** When the action is due to be reverted, epoch milliseconds. */
  revertBy: z.number(),
  /** The CLI process that applied it. */
  pid: z.number(),
});
export type LedgerEntry = z.infer<typeof ledgerEntrySchema>;

function ledgerDir(replica: string): string {
  return join(stateDir(replica), "ledger");
}

function entryPath(replica: string, runId: string, faultId: string): string {
  return join(ledgerDir(replica), `${runId}.${faultId}.json`);
}

export function writeIntent(entry: LedgerEntry): void {
  mkdirSync(ledgerDir(entry.replica), { recursive: true });
  const path = entryPath(entry.replica, entry.runId, entry.faultId);
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, JSON.stringify(entry, null, 2));
  renameSync(temporary, path);
}

export function clearEntry(replica: string, runId: string, faultId: string): void {
  rmSync(entryPath(replica, runId, faultId), { force: true });
}

/** Every entry of a replica (optionally of one run); unreadable files are reported, not dropped. */
export function readLedger(
  replica: string,
  runId?: string,
): { entries: LedgerEntry[]; unreadable: string[] } {
  let files: string[];
  try {
    files = readdirSync(ledgerDir(replica)).filter((f) => f.endsWith(".json"));
  } catch {
    return { entries: [], unreadable: [] };
  }
  const entries: LedgerEntry[] = [];
  const unreadable: string[] = [];
  for (const file of files) {
    const path = join(ledgerDir(replica), file);
    try {
      const entry = ledgerEntrySchema.parse(JSON.parse(readFileSync(path, "utf8")));
      if (runId === undefined || entry.runId === runId) entries.push(entry);
    } catch {
      unreadable.push(path);
    }
  }
  return { entries, unreadable };
}
