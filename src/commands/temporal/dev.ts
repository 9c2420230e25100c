import { Flags } from "@oclif/core";
import { BaseCommand } from "../../cli/base-command.js";
import { abortOnSignals } from "../../cli/signals.js";
import { startDevServer } from "../../scale/temporal-cli.js";

export default class TemporalDev extends BaseCommand {
  static override description =
    `Start a local Temporal dev server on 127.0.0.1, for Faultline's scale-out engine

Runs the pinned Temporal CLI's embedded server (\`bash scripts/setup.sh --temporal\` builds it)
in the foreground until Ctrl-C: in memory, or kept in --db FILE across restarts. Runs in
process (the default) need no server.`;
  static override examples = [
    "<%= config.bin %> temporal dev",
    "<%= config.bin %> temporal dev --port 7233 --db runs/temporal.db",
  ];
  static override flags = {
    port: Flags.integer({
      description: "the server's gRPC port on 127.0.0.1",
      default: 7233,
      min: 1,
      max: 65_535,
    }),
    db: Flags.string({ description: "keep workflows in this SQLite file (default: in memory)" }),
  };

  async run(): Promise<{ address: string; exitCode: number | null }> {
    const { flags } = await this.parse(TemporalDev);
    const signals = abortOnSignals();
    try {
      const server = await startDevServer({
        port: flags.port,
        dbFile: flags.db,
        log: (line) => this.progress(`temporal: ${line}`),
      });
      signals.signal.addEventListener("abort", () => server.stop(), { once: true });
      this.log(
        `Temporal dev server ready on ${server.address}${flags.db ? ` (kept in ${flags.db})` : " (in memory)"}; Ctrl-C stops it`,
      );
      const exitCode = await server.exited;
      this.log(`Temporal dev server on ${server.address} stopped`);
      return { address: server.address, exitCode };
    } finally {
      signals.dispose();
    }
  }
}
