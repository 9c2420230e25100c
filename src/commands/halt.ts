import { BaseCommand } from "../cli/base-command.js";
import { gameDayIdArg, temporalFlag } from "../cli/flags.js";
import { connectTemporal, haltGameDay } from "../scale/temporal-client.js";

export default class Halt extends BaseCommand {
  static override description = `Halt a game day running on the scale-out engine

Sends the workflow its halt signal: the run in progress reverts every fault at once and ends
interrupted (exit 130), with its journal, reports and history row written as usual. The rest of
a suite is not run. \`faultline watch ID\` follows it to the end.`;
  static override examples = ["<%= config.bin %> halt gd-20261203-190500-edge-latency-1a2b"];
  static override enableJsonFlag = true;
  static override args = { id: gameDayIdArg() };
  static override flags = { temporal: temporalFlag() };

  async run(): Promise<{ id: string; halted: true }> {
    const { args, flags } = await this.parse(Halt);
    const client = await connectTemporal(flags.temporal);
    try {
      await haltGameDay(client, args.id);
      this.log(`halt sent to ${args.id}: its faults are being reverted (faultline watch ${args.id})`);
      return { id: args.id, halted: true };
    } finally {
      await client.connection.close();
    }
  }
}
