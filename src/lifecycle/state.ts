import { homedir } from "node:os";
import { join } from "node:path";
import { InvalidInputError } from "../errors.js";

/**
 * Where Faultline keeps what must survive a crash: per replica, the lock and the fault ledger.
 * FAULTLINE_STATE_DIR overrides it (tests give each run its own).
 */
export function stateDir(replica: string): string {
  // The name becomes a folder: nothing but a name (an attached stack's may hold underscores).
  if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(replica))
    throw new InvalidInputError(`"${replica}" is not a replica name`, {
      suggestion: "lowercase letters, digits, dashes and underscores, at most 63 (e.g. --replica pop-2)",
    });
  const root =
    process.env.FAULTLINE_STATE_DIR ??
    join(process.env.XDG_STATE_HOME ?? join(homedir(), ".local", "state"), "faultline");
  return join(root, "replicas", replica);
}

/** Whether a process is alive (signal 0 checks without sending anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
