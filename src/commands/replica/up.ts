import { Flags } from "@oclif/core";
import { BaseCommand } from "../../cli/base-command.js";
import { replicaOverrideFlag } from "../../cli/flags.js";
import { abortOnSignals } from "../../cli/signals.js";
import { authorityCertFile } from "../../replica/certificates.js";
import { type Endpoints, replicaUp } from "../../replica/replica.js";
import type { StatsPage, Topology } from "../../replica/topology.js";
import { loadTopology } from "../../replica/topology-file.js";
import { formatDuration } from "../../units.js";

export default class ReplicaUp extends BaseCommand {
  static override description = `Bring up a replica of an edge PoP and wait until every edge is healthy

Without --topology: the built-in PoP (topologies/default.yaml), with --edges edges. With
--topology FILE: the PoP, or the PoPs behind a global traffic layer, that file describes
(its name is the replica's, unless --replica).`;
  static override examples = [
    "<%= config.bin %> replica up",
    "<%= config.bin %> replica up --edges 5 --replica big",
    "<%= config.bin %> replica up --topology topologies/default.yaml",
    "<%= config.bin %> replica up --topology topologies/two-pops.yaml",
  ];
  static override enableJsonFlag = true;
  static override flags = {
    replica: replicaOverrideFlag("replica name (default: default, or the topology's name)"),
    edges: Flags.integer({
      description: "number of edge nodes of the built-in PoP (default 3)",
      min: 1,
      exclusive: ["topology"],
    }),
    topology: Flags.string({ description: "a topology file describing the replica" }),
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
    const topology = flags.topology ? await loadTopology(flags.topology, flags.replica) : undefined;
    const name = topology?.replica ?? flags.replica ?? "default";
    const signals = abortOnSignals();
    try {
      const result = await replicaUp({
        replica: name,
        edges: flags.edges ?? 3,
        ...(topology ? { topology } : {}),
        timeoutMs: flags.timeout * 1000,
        signal: signals.signal,
        onProgress: (m) => this.progress(m),
      });
      const { endpoints } = result.replica;
      const shape = result.replica.topology;
      if (shape.pops && shape.global) {
        this.log(
          `replica ${name} ${result.created ? "up" : "already up"}: ${shape.pops.length} PoPs, ${shape.edges.length} edges, all healthy in ${formatDuration(result.tookMs)}`,
        );
        for (const line of multiPopLines(shape, endpoints)) this.log(line);
      } else {
        this.log(
          `replica ${name} ${result.created ? "up" : "already up"}: ${shape.edges.length} edges healthy behind the load balancer in ${formatDuration(result.tookMs)}`,
        );
        const own = shape.services.find((s) => s.role === "lb")?.own?.config;
        this.log(
          own
            ? `  health checks  as your config sets them (${own.source})`
            : `  health checks  ${checks(shape.healthCheck)}; balance ${shape.balance ?? "roundrobin"}`,
        );
        this.log(`  load balancer  ${endpoints.lb}`);
        if (endpoints.lbTls)
          this.log(`  https          https://${endpoints.lbTls} (CA: ${authorityCertFile(shape.replica)})`);
        if (endpoints.dns) this.log(`  dns            ${endpoints.dns} (udp; zone faultline.test.)`);
        const stats = shape.lbStats;
        this.log(
          `  haproxy stats  ${stats === false ? "not available with this config (no loadBalancer.stats)" : `${endpoints.lbStats}${stats ? stats.path : "/stats"}`}`,
        );
      }
      this.log(`  toxiproxy api  ${endpoints.toxiproxy}`);
      this.log(`  prometheus     ${endpoints.prometheus}`);
      return {
        replica: name,
        created: result.created,
        tookMs: result.tookMs,
        edges: shape.edges,
        endpoints,
      };
    } finally {
      signals.dispose();
    }
  }
}

const checks = (c: Topology["healthCheck"]) =>
  `every ${formatDuration(c.intervalMs)}, timeout ${formatDuration(c.timeoutMs)}, fall ${c.fall}, rise ${c.rise}`;

/** Where a load balancer's stats page is, or that the user's config has none. */
const statsAt = (page: StatsPage | false | undefined, base: string | undefined, field: string) =>
  page === false
    ? `not available with this config (no ${field}.stats)`
    : `${base ?? "?"}${page ? page.path : "/stats"}`;

/** A multi-PoP replica's layers: the global layer, each PoP, the shield, their checks and stats. */
function multiPopLines(shape: Topology, endpoints: Endpoints): string[] {
  const { pops = [], global } = shape;
  if (!global) return [];
  const own = (service: string) => shape.services.find((s) => s.name === service)?.own?.config;
  const checksOf = (service: string, c: Topology["healthCheck"]) => {
    const config = own(service);
    return config ? `as your config sets them (${config.source})` : checks(c);
  };
  const direct = shape.links.filter((l) => l.proxied === false).map((l) => l.name);
  const shield = shape.shield ? own(shape.shield) : undefined;
  return [
    `  global layer   ${endpoints.lb} (${global.policy}; checks ${checksOf(global.service, global.healthCheck)})`,
    ...pops.map((pop, p) => {
      const steering =
        global.policy === "weighted" ? `weight ${pop.weight}` : pop.backup ? "backup" : "primary";
      return `  ${pop.name.padEnd(14)} ${steering}; edges ${pop.edges.join(", ")}; checks ${checksOf(pop.lb, pop.healthCheck)}; stats ${statsAt(pop.stats, endpoints.pops?.[pop.name]?.lbStats, `pops[${p}].loadBalancer`)}`;
    }),
    ...(shape.shield
      ? [`  shield         between the PoPs and the origin${shield ? ` (your config ${shield.source})` : ""}`]
      : []),
    ...(direct.length
      ? [`  direct links   ${direct.join(", ")} (no Toxiproxy proxy; no fault acts on them)`]
      : []),
    `  global stats   ${statsAt(global.stats, endpoints.lbStats, "global")}`,
  ];
}
