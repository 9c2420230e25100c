import { Args, Flags } from "@oclif/core";
import { BaseCommand } from "../cli/base-command.js";
import { progressLine, renderEvaluation } from "../cli/render.js";
import { abortOnSignals } from "../cli/signals.js";
import type { RunEvaluation } from "../experiments/evaluation.js";
import { loadExperiment } from "../experiments/loader.js";
import { planFaults } from "../experiments/plan.js";
import { planOf, runExperiment } from "../experiments/runner.js";
import { newSeed } from "../experiments/targets.js";
import { recoverReplica } from "../injectors/recover.js";
import { assertNotLocked } from "../lifecycle/lock.js";
import { connectReplica, replicaDown, replicaUp } from "../replica/replica.js";
import { defaultTopology } from "../replica/topology.js";
import { formatDuration } from "../units.js";

export default class Run extends BaseCommand {
  static override description = `Run an experiment: baseline, inject, recover, verify; print the verdict

Brings the experiment's replica up when it is not running (and takes it down again at the end,
unless --keep-replica). Every fault is reverted at the end of its \`for\`, on any error, and on
Ctrl-C / SIGTERM. The journal of the run is written to <runs-dir>/<run-id>/journal.jsonl.

Exit codes: 0 passed, 1 failed, 2 invalid input, 3 inconclusive, 4 environment or tool error,
5 degraded, 130 interrupted.`;
  static override examples = [
    "<%= config.bin %> run experiments/edge-latency.yaml",
    "<%= config.bin %> run experiments/edge-latency.yaml --json > result.json",
    "<%= config.bin %> run experiments/edge-latency.yaml --keep-replica --runs-dir /tmp/runs",
  ];
  static override enableJsonFlag = true;
  static override args = { file: Args.string({ description: "experiment YAML file", required: true }) };
  static override flags = {
    "runs-dir": Flags.string({ description: "where run folders (journals) are written", default: "runs" }),
    replica: Flags.string({ description: "replica to run against (overrides the experiment's `replica`)" }),
    edges: Flags.integer({
      description: "edge count when the replica has to be brought up",
      default: 3,
      min: 1,
    }),
    recover: Flags.boolean({ description: "revert what crashed runs left on the replica before starting" }),
    seed: Flags.integer({
      description: "seed for random target choices (pick/percent); printed by every run",
      min: 0,
    }),
    "keep-replica": Flags.boolean({ description: "leave a replica this run brought up running afterwards" }),
  };

  async run(): Promise<{ runId: string; journal: string; evaluation: RunEvaluation }> {
    const { args, flags } = await this.parse(Run);
    const loaded = await loadExperiment(args.file);
    const { experiment } = loaded;
    const replicaName = flags.replica ?? experiment.replica;
    // Resolve and check every target against the shape the replica will have, before starting anything.
    const seed = flags.seed ?? newSeed();
    planFaults(experiment, defaultTopology(replicaName, flags.edges), seed);

    const signals = abortOnSignals((signal) =>
      this.progress(`\n${signal}: stopping and reverting every fault…`),
    );
    let created = false;
    try {
      const plan = planOf(experiment);
      const total =
        plan.warmupSeconds +
        plan.baselineSeconds +
        plan.injectSeconds +
        plan.recoverSeconds +
        plan.verifySeconds;
      this.progress(`faultline: ${experiment.name} (${args.file}), about ${formatDuration(total * 1000)}`);
      assertNotLocked(replicaName);
      if (flags.recover) {
        // A replica with stopped or paused services is refused by `up`: recover it first.
        const existing = await connectReplica(replicaName).catch(() => undefined);
        if (existing) {
          const { recovered } = await recoverReplica(existing);
          for (const r of recovered) this.progress(`  recovered ${r.kind} on ${r.target}: ${r.what}`);
        }
      }
      const up = await replicaUp({
        replica: replicaName,
        edges: flags.edges,
        signal: signals.signal,
        onProgress: (m) => this.progress(`  replica: ${m}`),
      });
      created = up.created;
      this.progress(
        `  replica ${replicaName}: ${up.replica.topology.edges.length} edges healthy (${up.created ? `up in ${formatDuration(up.tookMs)}` : "reused"}); load balancer ${up.replica.endpoints.lb}`,
      );
      let startedAt = Date.now();
      const result = await runExperiment({
        loaded,
        replica: up.replica,
        runsDir: flags["runs-dir"],
        seed,
        recoverFirst: flags.recover,
        signal: signals.signal,
        onEvent: (event) => {
          if (event.type === "run-started") {
            startedAt = Date.parse(event.at);
            this.progress(
              `  run ${event.runId}: ${event.load.driver} ${event.load.version} at ${event.load.ratePerSecond}/s → ${event.load.url}`,
            );
          }
          const line = progressLine(event, startedAt);
          if (line) this.progress(line);
        },
      });
      if (!this.jsonEnabled()) this.log(`\n${renderEvaluation(result.evaluation, result.journalPath)}`);
      process.exitCode = result.evaluation.exitCode;
      return { runId: result.runId, journal: result.journalPath, evaluation: result.evaluation };
    } finally {
      signals.dispose();
      if (created && !flags["keep-replica"]) {
        this.progress(
          `  replica ${replicaName}: taking down what this run brought up (keep it with --keep-replica)`,
        );
        await replicaDown(replicaName);
      }
    }
  }
}
