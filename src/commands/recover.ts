import { Flags } from "@oclif/core";
import { BaseCommand } from "../cli/base-command.js";
import { replicaFlag } from "../cli/flags.js";
import { EnvironmentError } from "../errors.js";
import { acquireLock } from "../lifecycle/lock.js";
import type { Recovered } from "../recovery/recover.js";
import { RECOVER_LIMIT_MS, recoverWithin } from "../recovery/recover-within.js";

export default class Recover extends BaseCommand {
  static override description = `Revert every fault that crashed or killed runs left on a replica

First starts the replica's stopped containers (a restart of the Docker engine stops them all),
Toxiproxy first with its links created again. Then reverts what the fault ledger records, and
sweeps the replica for anything Faultline could have left without a ledger entry: toxics named
faultline.*, netfilter sidecars and their rule chains, PoP containers left paused. Refuses
while a live run holds the replica.`;
  static override examples = [
    "<%= config.bin %> recover",
    "<%= config.bin %> recover --replica staging --json",
  ];
  static override enableJsonFlag = true;
  static override flags = {
    replica: replicaFlag("replica to recover"),
    timeout: Flags.integer({
      description: "seconds recover may take in all; what is left then is reported",
      default: RECOVER_LIMIT_MS / 1000,
      min: 1,
    }),
  };

  async run(): Promise<{ replica: string; started: string[]; recovered: Recovered[]; errors: string[] }> {
    const { flags } = await this.parse(Recover);
    // Holding the lock keeps runs out, and makes a crashed run's watchdog stand down while
    // recover does the same work.
    const release = acquireLock(flags.replica, `recover-${process.pid}`);
    let started: string[];
    let recovered: Recovered[];
    let errors: string[];
    try {
      ({ started, recovered, errors } = await recoverWithin(flags.replica, flags.timeout * 1000, (m) =>
        this.log(m),
      ));
    } finally {
      release();
    }
    if (started.length === 0 && recovered.length === 0 && errors.length === 0)
      this.log(`replica ${flags.replica}: nothing to recover`);
    for (const r of recovered) this.log(`reverted ${r.kind} on ${r.target}: ${r.what}`);
    if (errors.length > 0) {
      throw new EnvironmentError(`recover could not revert everything: ${errors.join("; ")}`, {
        suggestion: "fix the cause above and run `faultline recover` again; it is safe to repeat",
      });
    }
    return { replica: flags.replica, started, recovered, errors };
  }
}
