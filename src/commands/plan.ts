import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../cli/base-command.js";
import { allowHostCommandsFlag, replicaOverrideFlag, topologyFlag } from "../cli/flags.js";
import { describeLoad } from "../experiments/load-schema.js";
import { loadExperiment } from "../experiments/loader.js";
import { type FaultPlan, planFaults } from "../experiments/plan.js";
import { newSeed } from "../experiments/targets.js";
import { attachStack } from "../replica/replica.js";
import { replicaFor } from "../replica/topology-file.js";
import { type Plan, planOf } from "../run/runner.js";
import { formatDuration } from "../units.js";

export default class PlanCommand extends BaseCommand {
  static override description = `Show what an experiment would do, touching nothing

Resolves every target (random choices use --seed, so the same seed shows what a run with
that seed will do), applies the capacity guard, and prints each action with its revert and
the phase timeline. Needs no Docker engine, except on an attached stack whose faults
target labels: those resolve against its containers' real labels.`;
  static override examples = [
    "<%= config.bin %> plan experiments/edge-latency.yaml",
    "<%= config.bin %> plan experiments/edge-latency.yaml --seed 42 --edges 5 --json",
  ];
  static override enableJsonFlag = true;
  static override args = { file: Args.string({ description: "experiment YAML file", required: true }) };
  static override flags = {
    seed: Flags.integer({ description: "seed for random target choices", min: 0 }),
    edges: Flags.integer({ description: "edge count of the replica to plan against", default: 3, min: 1 }),
    replica: replicaOverrideFlag("replica name (overrides the experiment's `replica`)"),
    topology: topologyFlag(),
    "allow-host-commands": allowHostCommandsFlag(),
  };

  async run(): Promise<{ experiment: string; replica: string; timeline: Plan; faults: FaultPlan }> {
    const { args, flags } = await this.parse(PlanCommand);
    const loaded = await loadExperiment(args.file, {
      topology: flags.topology,
      allowHostCommands: flags["allow-host-commands"],
    });
    const { experiment } = loaded;
    const shape = replicaFor(loaded, flags.replica, flags.edges);
    const replica = shape.name;
    const byLabels = experiment.method.some((f) => f.target.kind === "labels");
    const topology =
      shape.attach && byLabels ? (await attachStack(shape.attach)).replica.topology : shape.topology;
    const faults = planFaults(experiment, topology, flags.seed ?? newSeed());
    const timeline = planOf(experiment);
    const injectStart = timeline.warmupSeconds + timeline.baselineSeconds;
    this.log(
      `plan of ${experiment.name} on replica ${replica} (${shape.topology.edges.length} edges${shape.fromFile ? `, from ${flags.topology ?? String(experiment.replica)}` : ""}${shape.attach ? ", an attached stack" : ""}), seed ${faults.seed}`,
    );
    this.log(
      `  timeline: warmup ${timeline.warmupSeconds}s, baseline ${timeline.baselineSeconds}s, inject ${timeline.injectSeconds}s, recover ${timeline.recoverSeconds}s, verify ${timeline.verifySeconds}s`,
    );
    this.log(`  load: ${describeLoad(experiment.load)}; faults start about ${injectStart}s in`);
    for (const a of faults.actions) {
      this.log(
        `  ${a.id.padEnd(12)} +${formatDuration(a.atMs)} to +${formatDuration(a.untilMs)}  ${a.description}`,
      );
      this.log(`  ${"".padEnd(12)} revert: ${a.revert}`);
    }
    return { experiment: experiment.name, replica, timeline, faults };
  }
}
