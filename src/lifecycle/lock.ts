import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { EnvironmentError } from "../errors.js";
import { isAlive, stateDir } from "./state.js";

const lockSchema = z.object({ pid: z.number(), runId: z.string(), startedAt: z.string() });
export type LockInfo = z.infer<typeof lockSchema>;

export function lockPath(replica: string): string {
  return join(stateDir(replica), "lock");
}

export function readLock(replica: string): LockInfo | undefined {
  try {
    return lockSchema.parse(JSON.parse(readFileSync(lockPath(replica), "utf8")));
  } catch {
    return undefined;
  }
}

function inUseError(replica: string, holder: LockInfo): EnvironmentError {
  return new EnvironmentError(
    `replica ${replica} is in use by run ${holder.runId} (pid ${holder.pid}, since ${holder.startedAt})`,
    {
      suggestion: "wait for that run to finish, or use another replica (--replica NAME)",
    },
  );
}

/** Fails when a live run holds the replica: what its faults did to the replica is not a leftover. */
export function assertNotLocked(replica: string): void {
  const holder = readLock(replica);
  if (holder && isAlive(holder.pid)) throw inUseError(replica, holder);
}

/**
 * Takes the replica's lock so that two runs never drive one replica at once. A lock whose
 * process is gone is stale and taken over. Returns the release function.
 */
export function acquireLock(replica: string, runId: string): () => void {
  const path = lockPath(replica);
  mkdirSync(stateDir(replica), { recursive: true });
  const info: LockInfo = { pid: process.pid, runId, startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, JSON.stringify(info));
      closeSync(fd);
      return () => {
        if (readLock(replica)?.runId === runId) rmSync(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = readLock(replica);
      if (holder && isAlive(holder.pid)) throw inUseError(replica, holder);
      // The holder died without releasing: a stale lock.
      rmSync(path, { force: true });
    }
  }
  throw new EnvironmentError(`could not take the lock of replica ${replica}`);
}
