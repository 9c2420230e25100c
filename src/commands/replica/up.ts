import { Flags } from "@oclif/core";
import { BaseCommand } from "../../cli/base-command.js";
import { abortOnSignals } from "../../cli/signals.js";
import { type Endpoints, replicaUp } from "../../replica/replica.js";
import { formatDuration } from "../../units.js";

export default class ReplicaUp extends BaseCommand {
  static override description = "Bring up the built-in edge PoP replica and wait until every edge is healthy";
  static override examples = [
    "<%= config.bin %> replica up",
    "<%= config.bin %> replica up --edges 5 --replica big",
  ];
  static override enableJsonFlag = true;
  static override flags = {
    replica: Flags.string({ description: "replica name", default: "default" }),
    edges: Flags.integer({ description: "number of edge nodes", default: 3, min: 1 }),
    timeout: Flags.integer({
      description: "seconds to wait for the edges to be healthy",
      default: 120,
      min: 1,
    }),
  };

  async run(): Promise<{
    replica: string;
    created: boolean;
    tookMs: number;
    edges: string[];
    endpoints: Endpoints;
  }> {
    const { flags } = await this.parse(ReplicaUp);
    const signals = abortOnSignals();
    try {
      const result = await replicaUp({
        replica: flags.replica,
        edges: flags.edges,
        timeoutMs: flags.timeout * 1000,
        signal: signals.signal,
        onProgress: (m) => this.progress(m),
      });
      const { topology, endpoints } = result.replica;
      this.log(
        `replica ${flags.replica} ${result.created ? "up" : "already up"}: ${topology.edges.length} edges healthy behind the load balancer in ${formatDuration(result.tookMs)}`,
      );
      this.log(`  load balancer  ${endpoints.lb}`);
      this.log(`  haproxy stats  ${endpoints.lbStats}/stats`);
      this.log(`  toxiproxy api  ${endpoints.toxiproxy}`);
      this.log(`  prometheus     ${endpoints.prometheus}`);
      return {
        replica: flags.replica,
        created: result.created,
        tookMs: result.tookMs,
        edges: topology.edges,
        endpoints,
      };
    } finally {
      signals.dispose();
    }
  }
}
