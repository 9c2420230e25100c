import { BaseCommand } from "../../cli/base-command.js";
import { temporalFlag } from "../../cli/flags.js";
import { listSchedules, type ScheduleRow } from "../../scale/schedules.js";
import { connectTemporal } from "../../scale/temporal-client.js";

export default class ScheduleList extends BaseCommand {
  static override description =
    "List the scheduled game days: their spec, whether paused, the next firing, the recent game days";
  static override examples = ["<%= config.bin %> schedule list", "<%= config.bin %> schedule list --json"];
  static override enableJsonFlag = true;
  static override flags = { temporal: temporalFlag() };

  async run(): Promise<{ schedules: ScheduleRow[] }> {
    const { flags } = await this.parse(ScheduleList);
    const client = await connectTemporal(flags.temporal);
    try {
      const schedules = await listSchedules(client);
      if (schedules.length === 0) this.log("no scheduled game days");
      for (const s of schedules)
        this.log(
          `${s.id}  ${s.spec}${s.paused ? "  PAUSED" : ""}  next ${s.next[0] ?? "-"}  recent ${s.recent.slice(-3).join(", ") || "-"}`,
        );
      return { schedules };
    } finally {
      await client.connection.close();
    }
  }
}
