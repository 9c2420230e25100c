import { BaseCommand } from "../cli/base-command.js";
import { engineFlag, temporalFlag } from "../cli/flags.js";
import { abortOnSignals } from "../cli/signals.js";
import { runWorker } from "../scale/worker.js";

export default class WorkerCommand extends BaseCommand {
  static override description =
    `Run the Temporal worker of one Docker engine, for game days on the scale-out engine

The worker owns the Docker engine this process reaches (DOCKER_HOST, else the local socket),
under --engine NAME, and polls the task queue faultline-engine-NAME. It runs the game days that
\`faultline run --temporal\` starts (replica, load, probes, journal, reports, history, on this
host) and applies their faults when the workflow's timers say so. One worker per engine: a
second is refused. Ctrl-C stops it; a game day in hand reverts its faults and ends interrupted.`;
  static override examples = [
    "<%= config.bin %> worker",
    "DOCKER_HOST=unix:///run/engine-2/docker.sock <%= config.bin %> worker --engine host-2 --temporal 127.0.0.1:7233",
  ];
  static override flags = {
    engine: engineFlag("the name of the Docker engine this worker owns"),
    temporal: temporalFlag(),
  };

  async run(): Promise<{ engine: string }> {
    const { flags } = await this.parse(WorkerCommand);
    const signals = abortOnSignals((signal) => this.progress(`${signal}: stopping the worker…`));
    try {
      await runWorker({
        address: flags.temporal,
        engine: flags.engine,
        signal: signals.signal,
        onProgress: (message) => this.progress(message),
      });
      this.progress(`worker for engine ${flags.engine} stopped`);
      return { engine: flags.engine };
    } finally {
      signals.dispose();
    }
  }
}
