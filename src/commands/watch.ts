import { BaseCommand } from "../cli/base-command.js";
import { gameDayIdArg, temporalFlag } from "../cli/flags.js";
import { watchGameDay } from "../cli/game-day-view.js";
import { abortOnSignals } from "../cli/signals.js";
import type { GameDayOutcome } from "../scale/game-day.js";
import { connectTemporal } from "../scale/temporal-client.js";

export default class Watch extends BaseCommand {
  static override description = `Follow a game day on the scale-out engine to its verdict

Prints each fault as the workflow applies and reverts it, then the verdicts, reports and gates,
as \`faultline run\` does, and exits with the game day's exit code. Ctrl-C stops watching only:
the game day goes on (\`faultline halt ID\` stops it).`;
  static override examples = ["<%= config.bin %> watch gd-20261203-190500-edge-latency-1a2b"];
  static override enableJsonFlag = true;
  static override args = { id: gameDayIdArg() };
  static override flags = { temporal: temporalFlag() };

  async run(): Promise<GameDayOutcome | { id: string; detached: true }> {
    const { args, flags } = await this.parse(Watch);
    const client = await connectTemporal(flags.temporal);
    const signals = abortOnSignals(() => this.progress(`stopped watching; ${args.id} goes on`));
    try {
      return await watchGameDay(this, client, args.id, signals.signal);
    } finally {
      signals.dispose();
      await client.connection.close();
    }
  }
}
