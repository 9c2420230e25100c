import { Args } from "@oclif/core";
import { BaseCommand } from "../../cli/base-command.js";
import { temporalFlag } from "../../cli/flags.js";
import { deleteSchedule } from "../../scale/schedules.js";
import { connectTemporal } from "../../scale/temporal-client.js";

export default class ScheduleDelete extends BaseCommand {
  static override description =
    "Delete a scheduled game day; a game day already running goes on (faultline halt stops it)";
  static override examples = ["<%= config.bin %> schedule delete weekly-launch"];
  static override enableJsonFlag = true;
  static override args = { id: Args.string({ description: "the schedule's id", required: true }) };
  static override flags = { temporal: temporalFlag() };

  async run(): Promise<{ id: string; deleted: true }> {
    const { args, flags } = await this.parse(ScheduleDelete);
    const client = await connectTemporal(flags.temporal);
    try {
      await deleteSchedule(client, args.id);
      this.log(`schedule ${args.id} deleted`);
      return { id: args.id, deleted: true };
    } finally {
      await client.connection.close();
    }
  }
}
