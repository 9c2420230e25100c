import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Args, Flags } from "@oclif/core";
import { parse as parseYaml } from "yaml";
import { BaseCommand } from "../cli/base-command.js";
import { type DurationFlagValue, durationFlag, replicaFlag, runsDirFlag } from "../cli/flags.js";
import { abortOnSignals } from "../cli/signals.js";
import { ExitCode, InvalidInputError } from "../errors.js";
import { planActions } from "../experiments/plan.js";
import { faultKinds, faultSchema } from "../experiments/schema.js";
import { newSeed } from "../experiments/targets.js";
import { Journal } from "../journal/journal.js";
import { acquireLock } from "../lifecycle/lock.js";
import { findLeftovers } from "../recovery/recover.js";
import { connectReplica } from "../replica/replica.js";
import { FaultSession } from "../run/fault-session.js";
import { newRunId } from "../run/runner.js";
import { formatDuration } from "../units.js";

export default class Inject extends BaseCommand {
  static override description = `Apply one fault by hand for a while, then revert it (game days)

The fault is held for --for, then reverted; Ctrl-C or SIGTERM reverts it at once. It goes
through the same ledger, lock and watchdog as \`faultline run\`: if this command dies, the
watchdog reverts the fault, and \`faultline recover\` finds anything left. Parameters of the
fault are given with --set, in the units of experiment files.`;
  static override examples = [
    "<%= config.bin %> inject latency --target edge-1 --for 30s --set latency=150ms --set jitter=10ms",
    "<%= config.bin %> inject node-kill --role edge --pick 1 --for 20s --set mode=pause",
    "<%= config.bin %> inject packet-loss --target origin --for 1m --set loss=5% --set direction=egress",
  ];
  static override enableJsonFlag = true;
  static override args = {
    fault: Args.string({
      description: `fault kind: ${faultKinds.join(", ")}`,
      required: true,
      options: [...faultKinds],
    }),
  };
  static override flags = {
    target: Flags.string({ description: "service to act on (edge-1, origin, lb, ...)", exclusive: ["role"] }),
    role: Flags.string({ description: "act on services of this role (lb, edge, origin)" }),
    pick: Flags.integer({
      description: "with --role: choose this many at random (seeded)",
      min: 1,
      dependsOn: ["role"],
    }),
    percent: Flags.string({
      description: "with --role: choose this share at random, e.g. 50%",
      dependsOn: ["role"],
    }),
    for: durationFlag({ description: "how long to hold the fault, e.g. 30s", required: true }),
    set: Flags.string({
      description: "fault parameter KEY=VALUE (repeatable), e.g. latency=150ms",
      multiple: true,
    }),
    replica: replicaFlag("replica to act on (must be up)"),
    seed: Flags.integer({ description: "seed for random target choices", min: 0 }),
    "min-healthy-edges": Flags.integer({
      description: "capacity guard: edges that must stay untouched",
      default: 1,
      min: 0,
    }),
    "runs-dir": runsDirFlag("where the journal is written"),
  };

  async run(): Promise<{
    runId: string;
    journal: string;
    faults: { id: string; description: string }[];
    heldMs: number;
    interrupted: boolean;
  }> {
    const { args, flags } = await this.parse(Inject);
    if (!flags.target && !flags.role) {
      throw new InvalidInputError("say what to act on: --target NAME or --role ROLE", {
        suggestion: "e.g. --target edge-1, or --role edge --pick 1",
      });
    }
    const fault = parseFault(args.fault, flags);
    const replica = await connectReplica(flags.replica);
    const seed = flags.seed ?? newSeed();
    const plan = planActions([fault], replica.topology, seed, flags["min-healthy-edges"]);
    const runId = newRunId(`inject-${args.fault}`);
    const releaseLock = acquireLock(flags.replica, runId);
    const signals = abortOnSignals((signal) => this.progress(`\n${signal}: reverting now…`));
    const journal = new Journal(join(flags["runs-dir"], runId, "journal.jsonl"));
    const started = Date.now();
    let interrupted = false;
    try {
      const leftovers = await findLeftovers(replica);
      if (leftovers.length > 0) {
        throw new InvalidInputError(
          `replica ${flags.replica} still has what an earlier run left: ${leftovers.join("; ")}`,
          {
            suggestion: "run `faultline recover` first",
          },
        );
      }
      journal.write({ type: "inject-started", runId, replica: flags.replica, seed, forMs: fault.for });
      const session = new FaultSession(replica, runId, journal, {
        watchdog: process.env.FAULTLINE_WATCHDOG !== "0",
        second: () => Math.floor((Date.now() - started) / 1000),
      });
      try {
        for (const action of plan.actions) {
          await session.apply(action, started + fault.for);
          this.progress(
            `applied ${action.id}: ${action.description} for ${formatDuration(fault.for)} (Ctrl-C reverts now)`,
          );
        }
        await sleep(Math.max(0, started + fault.for - Date.now()), undefined, {
          signal: signals.signal,
        }).catch(() => {
          interrupted = true;
        });
      } finally {
        await session.registry.drain();
      }
      const heldMs = Date.now() - started;
      this.log(
        `reverted ${plan.actions.map((a) => a.id).join(", ")} after ${formatDuration(heldMs)}${interrupted ? " (interrupted)" : ""}`,
      );
      if (interrupted) process.exitCode = ExitCode.interrupted;
      return {
        runId,
        journal: journal.path,
        faults: plan.actions.map((a) => ({ id: a.id, description: a.description })),
        heldMs,
        interrupted,
      };
    } finally {
      signals.dispose();
      releaseLock();
    }
  }
}

/** Builds the fault from flags and validates it with the experiment schema, naming flags in errors. */
function parseFault(
  kind: string,
  flags: {
    target?: string;
    role?: string;
    pick?: number;
    percent?: string;
    for: DurationFlagValue;
    set?: string[];
  },
): ReturnType<typeof faultSchema.parse> {
  // The text, not its milliseconds: a bad --for is reported with the other bad parameters.
  const raw: Record<string, unknown> = { fault: kind, for: flags.for.text };
  raw.target = flags.target ?? {
    role: flags.role,
    ...(flags.pick ? { pick: flags.pick } : {}),
    ...(flags.percent ? { percent: flags.percent } : {}),
  };
  for (const item of flags.set ?? []) {
    const eq = item.indexOf("=");
    if (eq <= 0)
      throw new InvalidInputError(`--set ${item}: expected KEY=VALUE`, {
        suggestion: "e.g. --set latency=150ms",
      });
    const key = item.slice(0, eq);
    if (key in raw) throw new InvalidInputError(`--set ${key}: use the --${key} flag for it`);
    // Values read as YAML scalars, as in an experiment file: 150ms stays a string, 2 is a number.
    raw[key] = parseYaml(item.slice(eq + 1));
  }
  const parsed = faultSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const flagFor = (key: string) =>
    key === "target"
      ? flags.target
        ? "--target"
        : "--role/--pick/--percent"
      : key === "for"
        ? "--for"
        : `--set ${key}`;
  throw new InvalidInputError(
    parsed.error.issues
      .map((i) => {
        const key = String(i.path[0] ?? "");
        if (i.code === "unrecognized_keys") return `--set ${i.keys.join(", ")}: not a parameter of ${kind}`;
        return `${key ? flagFor(key) : kind}: ${i.message}`;
      })
      .join("\n"),
    { suggestion: `see \`faultline inject --help\` and the ${kind} fault in docs/design.md` },
  );
}
