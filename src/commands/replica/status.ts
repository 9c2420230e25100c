import { BaseCommand } from "../../cli/base-command.js";
import { replicaFlag } from "../../cli/flags.js";
import { type ReplicaStatus, replicaStatus } from "../../replica/replica.js";

export default class ReplicaStatusCommand extends BaseCommand {
  static override description =
    "Show each service of a replica, its container state and, for edges, the load balancer's view";
  static override examples = ["<%= config.bin %> replica status", "<%= config.bin %> replica status --json"];
  static override enableJsonFlag = true;
  static override flags = {
    replica: replicaFlag(),
  };

  async run(): Promise<ReplicaStatus> {
    const { flags } = await this.parse(ReplicaStatusCommand);
    const status = await replicaStatus(flags.replica);
    if (!status.exists) {
      this.log(`replica ${flags.replica}: not up (start it with \`faultline replica up\`)`);
      return status;
    }
    this.log(`replica ${flags.replica}`);
    for (const s of status.services) {
      this.log(
        `  ${s.service.padEnd(14)} ${s.role.padEnd(11)} ${s.state.padEnd(9)} ${s.lbState ? `${s.role === "lb" && status.endpoints?.pops ? "global" : "lb"}: ${s.lbState}` : ""}`.trimEnd(),
      );
    }
    if (status.endpoints) this.log(`  load balancer ${status.endpoints.lb}`);
    if (status.endpoints?.lbTls) this.log(`  https         https://${status.endpoints.lbTls}`);
    if (status.endpoints?.dns) this.log(`  dns           ${status.endpoints.dns} (udp)`);
    return status;
  }
}
