import { Flags } from "@oclif/core";
import { BaseCommand } from "../cli/base-command.js";
import { type Recovered, recoverReplica } from "../injectors/recover.js";
import { connectReplica } from "../replica/replica.js";

export default class Recover extends BaseCommand {
  static override description = "Revert every fault that crashed or killed runs left on a replica";
  static override examples = [
    "<%= config.bin %> recover",
    "<%= config.bin %> recover --replica staging --json",
  ];
  static override enableJsonFlag = true;
  static override flags = {
    replica: Flags.string({ description: "replica to recover", default: "default" }),
  };

  async run(): Promise<{ replica: string; recovered: Recovered[] }> {
    const { flags } = await this.parse(Recover);
    const replica = await connectReplica(flags.replica);
    const recovered = await recoverReplica(replica);
    if (recovered.length === 0) this.log(`replica ${flags.replica}: nothing to recover`);
    for (const r of recovered) this.log(`reverted ${r.kind} ${r.name} on ${r.target}`);
    return { replica: flags.replica, recovered };
  }
}
