import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../../cli/base-command.js";
import {
  allowHostCommandsFlag,
  DEFAULT_CHECK_TOLERANCE,
  DEFAULT_SCORE_TOLERANCE,
  durationFlag,
  engineFlag,
  historyFlag,
  replicaOverrideFlag,
  runsDirFlag,
  temporalFlag,
} from "../../cli/flags.js";
import { parseParamFlags } from "../../cli/params.js";
import { gameDayInput } from "../../cli/temporal-run.js";
import { InvalidInputError } from "../../errors.js";
import { historyLocation } from "../../history/open.js";
import { checkSuite } from "../../run/suite.js";
import { checkScheduleId, createSchedule, type ScheduleRow, scheduleSpec } from "../../scale/schedules.js";
import { checkEngineName, connectTemporal, workersOf } from "../../scale/temporal-client.js";
import { parsePercent } from "../../units.js";

export default class ScheduleCreate extends BaseCommand {
  static override description = `Schedule game days on the scale-out engine (Temporal Schedules)

Every firing runs FILE|DIR as \`faultline run --temporal\` would, on the worker of --engine, and
records its runs in the history (--history, default <runs-dir>/history.db). Give --cron (five
fields, UTC) or --every. A firing while the last game day still runs is skipped. The files are
checked now, and read again by the worker at every firing.`;
  static override examples = [
    '<%= config.bin %> schedule create experiments/launch-readiness --cron "0 3 * * 1" --id weekly-launch',
    "<%= config.bin %> schedule create experiments/edge-latency.yaml --every 6h --history postgres://faultline@db/faultline",
  ];
  static override enableJsonFlag = true;
  static override args = {
    files: Args.string({ description: "experiment YAML file or folder", required: true }),
  };
  static override flags = {
    cron: Flags.string({ description: 'a cron expression, e.g. "0 3 * * 1" (Mondays 03:00 UTC)' }),
    every: durationFlag({ description: "or an interval, e.g. 6h (at least 5s)" }),
    id: Flags.string({ description: "the schedule's id (default: the first experiment's name)" }),
    engine: engineFlag("the Docker engine whose worker runs each game day"),
    temporal: temporalFlag(),
    "runs-dir": runsDirFlag("where the worker writes run folders"),
    history: historyFlag(),
    "no-history": Flags.boolean({ description: "do not record the runs in the history" }),
    replica: replicaOverrideFlag("replica to run against (overrides each experiment's `replica`)"),
    edges: Flags.integer({
      description: "edge count when a replica has to be brought up",
      default: 3,
      min: 1,
    }),
    tag: Flags.string({ description: "run only experiments with this tag (repeatable)", multiple: true }),
    param: Flags.string({
      description: "a value for one of the experiments' params, name=value",
      multiple: true,
    }),
    "fail-under": Flags.integer({ description: "gate: fail a run scoring below this", min: 0, max: 100 }),
    "accept-degraded": Flags.boolean({ description: "exit 0, not 5, for a degraded run" }),
    "allow-host-commands": allowHostCommandsFlag(),
  };

  async run(): Promise<ScheduleRow> {
    const { args, flags } = await this.parse(ScheduleCreate);
    if (flags.every && flags.every.ms === undefined)
      throw new InvalidInputError(
        `--every: expected a duration such as "30s" or "6h", got "${flags.every.text}"`,
      );
    scheduleSpec({ cron: flags.cron, everyMs: flags.every?.ms });
    const params = parseParamFlags(flags.param);
    const engine = checkEngineName(flags.engine);
    const settings = {
      engine,
      paths: [args.files],
      tags: flags.tag ?? [],
      runsDir: flags["runs-dir"],
      replica: flags.replica,
      edges: flags.edges,
      recover: false,
      keepReplica: false,
      gates: {
        failUnder: flags["fail-under"],
        scoreTolerance: DEFAULT_SCORE_TOLERANCE,
        checkTolerance: parsePercent(DEFAULT_CHECK_TOLERANCE) ?? 0.1,
      },
      acceptDegraded: flags["accept-degraded"],
      allowHostCommands: flags["allow-host-commands"],
      params,
      history: flags["no-history"] ? undefined : historyLocation(flags.history, flags["runs-dir"]),
    };
    // What an in-process run checks before it starts: a schedule of bad input is refused now.
    const suite = await checkSuite(settings);
    const id = checkScheduleId(flags.id ?? suite[0]?.experiment.name ?? "game-day");
    const client = await connectTemporal(flags.temporal);
    try {
      const row = await createSchedule(client, {
        scheduleId: id,
        cron: flags.cron,
        everyMs: flags.every?.ms,
        input: gameDayInput(settings, `gd-${id}`, engine),
      });
      this.log(`schedule ${row.id}: ${row.spec}; next ${row.next[0] ?? "-"}`);
      if ((await workersOf(client, engine)).length === 0)
        this.progress(
          `warning: no worker for engine "${engine}" yet: start one (faultline worker --engine ${engine})`,
        );
      return row;
    } finally {
      await client.connection.close();
    }
  }
}
