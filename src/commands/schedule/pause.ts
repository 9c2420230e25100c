import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../../cli/base-command.js";
import { temporalFlag } from "../../cli/flags.js";
import { pauseSchedule, type ScheduleRow } from "../../scale/schedules.js";
import { connectTemporal } from "../../scale/temporal-client.js";

export default class SchedulePause extends BaseCommand {
  static override description =
    "Pause a scheduled game day (--resume to resume it); a game day already running goes on";
  static override examples = [
    "<%= config.bin %> schedule pause weekly-launch",
    "<%= config.bin %> schedule pause weekly-launch --resume",
  ];
  static override enableJsonFlag = true;
  static override args = { id: Args.string({ description: "the schedule's id", required: true }) };
  static override flags = {
    temporal: temporalFlag(),
    resume: Flags.boolean({ description: "resume it instead" }),
  };

  async run(): Promise<ScheduleRow> {
    const { args, flags } = await this.parse(SchedulePause);
    const client = await connectTemporal(flags.temporal);
    try {
      const row = await pauseSchedule(client, args.id, !flags.resume);
      this.log(`schedule ${row.id}: ${row.paused ? "paused" : `resumed; next ${row.next[0] ?? "-"}`}`);
      return row;
    } finally {
      await client.connection.close();
    }
  }
}
