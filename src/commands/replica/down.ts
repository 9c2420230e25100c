import { BaseCommand } from "../../cli/base-command.js";
import { replicaFlag } from "../../cli/flags.js";
import { type DownResult, replicaDown } from "../../replica/replica.js";

export default class ReplicaDown extends BaseCommand {
  static override description =
    "Remove every container and network of a replica (only those Faultline labelled)";
  static override examples = [
    "<%= config.bin %> replica down",
    "<%= config.bin %> replica down --replica big",
  ];
  static override enableJsonFlag = true;
  static override flags = {
    replica: replicaFlag(),
  };

  async run(): Promise<DownResult & { replica: string }> {
    const { flags } = await this.parse(ReplicaDown);
    const result = await replicaDown(flags.replica);
    this.log(
      result.containers.length === 0 && result.networks.length === 0
        ? `replica ${flags.replica}: nothing to remove`
        : `replica ${flags.replica}: removed ${result.containers.length} container(s) and ${result.networks.length} network(s)`,
    );
    for (const k of result.kept) this.log(`  kept network ${k}`);
    return { replica: flags.replica, ...result };
  }
}
