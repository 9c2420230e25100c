import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InvalidInputError, ValidationError } from "../../src/errors.js";
import { loadExperiment } from "../../src/experiments/loader.js";
import { planFaults } from "../../src/experiments/plan.js";
import { experimentSchema, type Target, targetSchema } from "../../src/experiments/schema.js";
import { resolveTarget, seededRandom } from "../../src/experiments/targets.js";
import { parseYamlWithSchema } from "../../src/format/located-yaml.js";
import type { JournalEvent } from "../../src/journal/journal.js";
import {
  edgeUpstream,
  globalLbConfig,
  popLbConfig,
  prometheusConfig,
  toxiproxyProxies,
} from "../../src/replica/configs.js";
import {
  defaultTopology,
  linkAddress,
  linkTo,
  type Pop,
  popOf,
  popViews,
  type Topology,
} from "../../src/replica/topology.js";
import { loadTopology, topologyFromSpec, topologySchema } from "../../src/replica/topology-file.js";
import { BucketAggregator, type MetricsBucket, windowStats } from "../../src/steady-state/metrics.js";
import type { Sample } from "../../src/steady-state/sample.js";
import { measurePopTimings, popTimingLines } from "../../src/verdict/pop-timings.js";
import { validExperimentYaml } from "../support/experiments.js";
import { tempDir } from "../support/temp.js";
import { validationMessage } from "../support/validation.js";

const spec = (yaml: string) => parseYamlWithSchema("t.yaml", yaml, topologySchema);
const topologyOf = (yaml: string) => topologyFromSpec(spec(yaml));
const problems = (yaml: string): string => validationMessage(() => spec(yaml));

/**
 * Two PoPs of two edges each, no shield; `extra` is appended at the top level. pop-a weighs
 * 3 under the weighted policy (a comment holds its line otherwise, keeping line numbers).
 */
const twoPops = (extra = "", global = "") => `version: 1
name: duo
pops:
  - name: pop-a
    edges: 2
    ${global.includes("weighted") ? "weight: 3" : "# weight: 3 under the weighted policy"}
  - name: pop-b
    edges: 2
${global}${extra}`;

const pop = (topology: Topology, name: string): Pop => {
  const found = topology.pops?.find((p) => p.name === name);
  if (!found) throw new Error(`no PoP ${name}`);
  return found;
};

const target = (input: unknown): Target => targetSchema.parse(input);

describe("topologies/two-pops.yaml", () => {
  it("loads two PoPs, a global layer and a shield, with every link through Toxiproxy", async () => {
    const topology = await loadTopology("topologies/two-pops.yaml");
    expect(topology.replica).toBe("two-pops");
    expect(topology.network).toBe("faultline-two-pops");
    expect(topology.edges).toEqual(["pop-a-edge-1", "pop-a-edge-2", "pop-b-edge-1", "pop-b-edge-2"]);
    const check = { intervalMs: 500, timeoutMs: 1000, fall: 2, rise: 2 };
    expect(topology.pops).toEqual([
      {
        name: "pop-a",
        lb: "pop-a-lb",
        edges: ["pop-a-edge-1", "pop-a-edge-2"],
        healthCheck: check,
        balance: "roundrobin",
        uplink: "pop-a-uplink",
        ingress: "pop-a-ingress",
        weight: 1,
        backup: false,
      },
      {
        name: "pop-b",
        lb: "pop-b-lb",
        edges: ["pop-b-edge-1", "pop-b-edge-2"],
        healthCheck: check,
        balance: "roundrobin",
        uplink: "pop-b-uplink",
        ingress: "pop-b-ingress",
        weight: 1,
        backup: true,
      },
    ]);
    expect(topology.global).toEqual({ service: "global", policy: "primary-backup", healthCheck: check });
    expect(topology.shield).toBe("shield");
    expect(topology.healthCheck).toEqual(check);

    expect(topology.services.map((s) => `${s.name}/${s.role}`)).toEqual([
      "toxiproxy/toxiproxy",
      "origin/origin",
      "shield/shield",
      "pop-a-edge-1/edge",
      "pop-a-edge-2/edge",
      "pop-b-edge-1/edge",
      "pop-b-edge-2/edge",
      "pop-a-lb/lb",
      "pop-b-lb/lb",
      "global/global",
      "prometheus/prometheus",
    ]);
    expect(topology.services.find((s) => s.name === "shield")?.image).toBe("faultline/edge:local");
    expect(topology.services.find((s) => s.name === "global")).toMatchObject({
      image: "faultline/lb:local",
      publish: [80, 8405],
    });

    expect(topology.links.map((l) => `${l.name} ${l.from} -> ${l.upstream.service}:${l.listenPort}`)).toEqual(
      [
        "pop-a-ingress global -> pop-a-lb:22001",
        "pop-b-ingress global -> pop-b-lb:22002",
        "pop-a-edge-1 pop-a-lb -> pop-a-edge-1:20001",
        "pop-a-edge-2 pop-a-lb -> pop-a-edge-2:20002",
        "pop-b-edge-1 pop-b-lb -> pop-b-edge-1:20003",
        "pop-b-edge-2 pop-b-lb -> pop-b-edge-2:20004",
        "pop-a-uplink edges of pop-a -> shield:21001",
        "pop-b-uplink edges of pop-b -> shield:21002",
        "origin shield -> origin:21000",
      ],
    );
    expect(topology.links.every((l) => l.proxied === undefined)).toBe(true);
    const ports = topology.links.map((l) => l.listenPort);
    expect(new Set(ports).size).toBe(ports.length);
  });

  it("knows which PoP a service or link belongs to, and which link is in front of what", async () => {
    const topology = await loadTopology("topologies/two-pops.yaml");
    expect(popOf(topology, "pop-b-edge-2")?.name).toBe("pop-b");
    expect(popOf(topology, "pop-a-lb")?.name).toBe("pop-a");
    expect(popOf(topology, "pop-b-uplink")?.name).toBe("pop-b");
    expect(popOf(topology, "pop-a-ingress")?.name).toBe("pop-a");
    expect(popOf(topology, "shield")).toBeUndefined();
    expect(popOf(topology, "origin")).toBeUndefined();
    expect(popViews(topology).map((v) => [v.name, v.lb, v.edges])).toEqual([
      ["pop-a", "pop-a-lb", ["pop-a-edge-1", "pop-a-edge-2"]],
      ["pop-b", "pop-b-lb", ["pop-b-edge-1", "pop-b-edge-2"]],
    ]);
    // With a shield, the origin has one link in front of it; the shield has one per PoP.
    expect(linkTo(topology, "origin")?.name).toBe("origin");
    expect(linkTo(topology, "pop-b-lb")?.name).toBe("pop-b-ingress");
    expect(linkTo(topology, "shield")).toBeUndefined();
    expect(linkTo(topology, "pop-a-uplink")?.upstream).toEqual({ service: "shield", port: 80 });
  });

  it("renames with the replica argument", async () => {
    const topology = await loadTopology("topologies/two-pops.yaml", "renamed");
    expect(topology).toMatchObject({ replica: "renamed", network: "faultline-renamed" });
  });
});

describe("multi-PoP configs", () => {
  it("the global layer checks each PoP's health path; pop-b is the backup under primary-backup", async () => {
    const topology = await loadTopology("topologies/two-pops.yaml");
    const config = globalLbConfig(topology);
    expect(config).toContain("\nbackend pops\n");
    expect(config).toContain("  default_backend pops");
    expect(config).toContain("  balance roundrobin");
    expect(config).toContain("  option httpchk GET /pop-health");
    expect(config).toContain("  http-check expect status 200");
    expect(config).toContain("  timeout check 1000ms");
    expect(config).toMatch(/ {2}default-server inter 500 fall 2 rise 2 resolvers docker/);
    const servers = config.split("\n").filter((l) => l.startsWith("  server "));
    expect(servers).toEqual([
      "  server pop-a toxiproxy:22001 check",
      "  server pop-b toxiproxy:22002 check backup",
    ]);
    expect(config).not.toContain("weight");
  });

  it("under the weighted policy each PoP gets its weight and none is a backup", () => {
    const topology = topologyOf(twoPops("", "global: { policy: weighted }\n"));
    expect(topology.global?.policy).toBe("weighted");
    const config = globalLbConfig(topology);
    expect(config).toContain("  balance roundrobin");
    const servers = config.split("\n").filter((l) => l.startsWith("  server "));
    expect(servers).toEqual([
      "  server pop-a toxiproxy:22001 check weight 3",
      "  server pop-b toxiproxy:22002 check weight 1",
    ]);
    expect(config).not.toContain("backup");
  });

  it("the global layer has no config in a single-PoP replica", () => {
    expect(() => globalLbConfig(defaultTopology())).toThrow(/no global traffic layer/);
  });

  it("a PoP's load balancer answers /pop-health by its edges, tags responses and balances its own edges", async () => {
    const topology = await loadTopology("topologies/two-pops.yaml");
    const config = popLbConfig(topology, pop(topology, "pop-a"));
    expect(config).toContain("  monitor-uri /pop-health");
    expect(config).toContain("  monitor fail if { nbsrv(edges) lt 1 }");
    expect(config).toContain("  http-after-response set-header X-Pop pop-a");
    expect(config).toContain("  timeout check 1000ms");
    expect(config).toMatch(/ {2}default-server inter 500 fall 2 rise 2 /);
    const servers = config.split("\n").filter((l) => l.startsWith("  server "));
    expect(servers).toEqual([
      "  server pop-a-edge-1 toxiproxy:20001 check",
      "  server pop-a-edge-2 toxiproxy:20002 check",
    ]);
    const b = popLbConfig(topology, pop(topology, "pop-b"));
    expect(b).toContain("set-header X-Pop pop-b");
    expect(b).toContain("  server pop-b-edge-2 toxiproxy:20004 check");
    expect(b).not.toContain("pop-a");
  });

  it("an edge fetches through its own PoP's uplink", async () => {
    const topology = await loadTopology("topologies/two-pops.yaml");
    expect(edgeUpstream(topology, "pop-a-edge-2")).toBe("toxiproxy:21001");
    expect(edgeUpstream(topology, "pop-b-edge-1")).toBe("toxiproxy:21002");
    // A single PoP's edges use the one origin link.
    expect(edgeUpstream(defaultTopology(), "edge-1")).toBe("toxiproxy:21000");
  });

  it("Prometheus scrapes every PoP's load balancer with its PoP label, and the global layer", async () => {
    const config = prometheusConfig(await loadTopology("topologies/two-pops.yaml"));
    expect(config).toContain('      - targets: ["pop-a-lb:8405"]\n        labels: { pop: "pop-a" }');
    expect(config).toContain('      - targets: ["pop-b-lb:8405"]\n        labels: { pop: "pop-b" }');
    expect(config).toContain('  - job_name: global\n    static_configs:\n      - targets: ["global:8405"]');
    expect(prometheusConfig(defaultTopology())).not.toContain("job_name: global");
  });

  it("Toxiproxy gets one proxy per link", async () => {
    const proxies = toxiproxyProxies(await loadTopology("topologies/two-pops.yaml"));
    expect(proxies.map((p) => p.name)).toEqual([
      "pop-a-ingress",
      "pop-b-ingress",
      "pop-a-edge-1",
      "pop-a-edge-2",
      "pop-b-edge-1",
      "pop-b-edge-2",
      "pop-a-uplink",
      "pop-b-uplink",
      "origin",
    ]);
    expect(proxies.find((p) => p.name === "pop-b-ingress")).toEqual({
      name: "pop-b-ingress",
      listen: "0.0.0.0:22002",
      upstream: "pop-b-lb:80",
      enabled: true,
    });
  });

  it("a link in links.direct is not proxied: its clients connect straight to the upstream", () => {
    const topology = topologyOf(
      twoPops("origin: { shield: true }\nlinks:\n  direct: [pop-a-edge-1, pop-b-uplink, pop-a-ingress]\n"),
    );
    const direct = topology.links.filter((l) => l.proxied === false).map((l) => l.name);
    expect(direct).toEqual(["pop-a-ingress", "pop-a-edge-1", "pop-b-uplink"]);
    const edge1 = linkTo(topology, "pop-a-edge-1");
    expect(edge1 && linkAddress(edge1)).toBe("pop-a-edge-1:80");

    const lb = popLbConfig(topology, pop(topology, "pop-a"));
    expect(lb).toContain("  server pop-a-edge-1 pop-a-edge-1:80 check\n");
    expect(lb).toContain("  server pop-a-edge-2 toxiproxy:20002 check\n");
    expect(edgeUpstream(topology, "pop-b-edge-1")).toBe("shield:80");
    expect(edgeUpstream(topology, "pop-a-edge-1")).toBe("toxiproxy:21001");
    const global = globalLbConfig(topology);
    expect(global).toContain("  server pop-a pop-a-lb:80 check\n");
    expect(global).toContain("  server pop-b toxiproxy:22002 check backup\n");

    const proxied = toxiproxyProxies(topology).map((p) => p.name);
    expect(proxied).toEqual([
      "pop-b-ingress",
      "pop-a-edge-2",
      "pop-b-edge-1",
      "pop-b-edge-2",
      "pop-a-uplink",
      "origin",
    ]);
  });
});

describe("multi-PoP topology errors are located", () => {
  it("rejects two PoPs of the same name", () => {
    expect(
      problems(`version: 1
name: x
pops:
  - name: pop-a
    edges: 1
  - name: pop-a
    edges: 1
`),
    ).toBe('t.yaml:6:11 pops[1].name: expected unique names; "pop-a" (a PoP) is also pops[0].name');
  });

  it("rejects a service of your own named as one of the edges that edges: N generates", () => {
    expect(
      problems(`version: 1
name: x
edges: 2
services:
  edge-2: { image: mine }
`),
    ).toBe('t.yaml:5:11 services.edge-2: expected unique names; "edge-2" (a service) is also edges');
  });

  it("rejects the same edge name in two PoPs", () => {
    expect(
      problems(`version: 1
name: x
pops:
  - name: pop-a
    edges: [shared, a2]
  - name: pop-b
    edges: [b1, shared]
`),
    ).toBe(
      't.yaml:7:17 pops[1].edges[1]: expected unique names; "shared" (an edge) is also pops[0].edges[0]',
    );
  });

  it("rejects an edge named like another PoP's load balancer or links", () => {
    expect(
      problems(`version: 1
name: x
pops:
  - name: pop-a
    edges: 1
  - name: pop-b
    edges: [pop-a-uplink]
`),
    ).toBe(
      't.yaml:7:13 pops[1].edges[0]: expected unique names; "pop-a-uplink" (an edge) is also pops[0] (its uplink)',
    );
  });

  // The names `edges: N` generates are claimed too: a listed edge may not take one.
  const clashingEdges = `version: 1
name: x
pops:
  - name: pop-a
    edges: [pop-b-edge-1]
  - name: pop-b
    edges: 1
`;
  it("rejects an edge named like the edge another PoP's `edges: N` generates", () => {
    expect(problems(clashingEdges)).toMatch(
      /^t\.yaml:5:\d+ pops\[0\]\.edges\[0\]: expected unique names; "pop-b-edge-1"|^t\.yaml:7:12 pops\[1\]\.edges: expected unique names; "pop-b-edge-1"/,
    );
  });

  it("rejects a PoP without edges, as a number or as a list", () => {
    const withEdges = (edges: string) => `version: 1
name: x
pops:
  - name: pop-a
    edges: 1
  - name: pop-b
    edges: ${edges}
`;
    expect(problems(withEdges("0"))).toBe("t.yaml:7:12 pops[1].edges: expected at least one edge");
    expect(problems(withEdges("[]"))).toBe("t.yaml:7:12 pops[1].edges: expected at least one edge");
  });

  it("rejects edges next to pops", () => {
    expect(
      problems(`version: 1
name: x
edges: 2
pops:
  - name: pop-a
    edges: 1
  - name: pop-b
    edges: 1
`),
    ).toBe(
      "t.yaml:3:8 edges: expected either edges (one PoP) or pops (several), not both; move the edges into a PoP",
    );
  });

  it("rejects global (and a shield) without pops", () => {
    expect(problems("version: 1\nname: x\nedges: 2\nglobal: { policy: weighted }\n")).toBe(
      "t.yaml:4:9 global: expected global only with pops (it steers clients between PoPs)",
    );
    expect(problems("version: 1\nname: x\nedges: 2\norigin:\n  shield: true\n")).toBe(
      "t.yaml:5:11 origin.shield: expected a shield only with pops",
    );
  });

  it("rejects a links.direct name that is not one of the topology's links, listing them", () => {
    expect(problems(twoPops("links:\n  direct: [pop-a-edge-1, pop-c-uplink]\n"))).toBe(
      't.yaml:10:26 links.direct[1]: expected the name of one of this topology\'s links (pop-a-ingress, pop-b-ingress, pop-a-edge-1, pop-a-edge-2, pop-b-edge-1, pop-b-edge-2, pop-a-uplink, pop-b-uplink), got "pop-c-uplink"',
    );
    // The origin link exists only behind a shield.
    expect(problems(twoPops("links:\n  direct: [origin]\n"))).toMatch(
      /^t\.yaml:10:12 links\.direct\[0\]: expected the name of one of this topology's links \(.*pop-b-uplink\), got "origin"$/,
    );
    expect(
      topologyOf(twoPops("origin: { shield: true }\nlinks:\n  direct: [origin]\n")).links.at(-1),
    ).toEqual({
      name: "origin",
      listenPort: 21000,
      upstream: { service: "origin", port: 80 },
      from: "shield",
      proxied: false,
    });
  });

  it("rejects a single PoP under pops", () => {
    expect(
      problems(`version: 1
name: x
pops:
  - name: pop-a
    edges: 2
`),
    ).toBe("t.yaml:4:3 pops: expected at least two PoPs (a single PoP is `edges:` without `pops:`)");
  });

  it("rejects primary-backup without a primary; weighted has no backups", () => {
    const allBackups = (global: string) => `version: 1
name: x
pops:
  - name: pop-a
    edges: 1
    role: backup
  - name: pop-b
    edges: 1
    role: backup
${global}`;
    expect(problems(allBackups(""))).toBe("t.yaml:4:3 pops: expected at least one PoP with role: primary");
    expect(problems(allBackups("global: { policy: primary-backup }\n"))).toBe(
      "t.yaml:4:3 pops: expected at least one PoP with role: primary",
    );
    const weighted = topologyOf(twoPops("", "global: { policy: weighted }\n"));
    expect(globalLbConfig(weighted)).not.toContain("backup");
  });

  it("refuses a PoP name that another PoP's generated names take, in either order", () => {
    const pops = (first: string, second: string) =>
      `version: 1\nname: x\npops:\n  - name: ${first}\n    edges: 1\n  - name: ${second}\n    edges: 1\n`;
    expect(problems(pops("a-lb", "a"))).toBe(
      't.yaml:6:11 pops[1].name: expected unique names; "a-lb" (its lb) is also pops[0].name',
    );
    expect(problems(pops("a", "a-lb"))).toBe(
      't.yaml:6:11 pops[1].name: expected unique names; "a-lb" (a PoP) is also pops[0] (its lb)',
    );
  });

  it("refuses settings another policy or layout would silently ignore", () => {
    const duo = (pops: string, top = "") => `version: 1
name: x
${top}pops:
  - name: pop-a
    edges: 1
${pops}  - name: pop-b
    edges: 1
`;
    expect(problems(duo("    role: backup\n", "global: { policy: weighted }\n"))).toBe(
      "t.yaml:7:11 pops[0].role: expected role only with global.policy: primary-backup (weighted uses weight)",
    );
    expect(problems(duo("    weight: 2\n"))).toBe(
      "t.yaml:6:13 pops[0].weight: expected weight only with global.policy: weighted (primary-backup uses role)",
    );
    expect(problems(duo("", "loadBalancer: { balance: leastconn }\n"))).toBe(
      "t.yaml:3:15 loadBalancer: expected loadBalancer inside each PoP with pops (pops[].loadBalancer)",
    );
  });

  it("defaults the first PoP to primary and the others to backup", () => {
    const topology = topologyOf(twoPops());
    expect(topology.pops?.map((p) => [p.name, p.backup])).toEqual([
      ["pop-a", false],
      ["pop-b", true],
    ]);
    expect(topology.global).toEqual({
      service: "global",
      policy: "primary-backup",
      healthCheck: { intervalMs: 1000, timeoutMs: 2000, fall: 2, rise: 2 },
    });
    expect(topology.shield).toBeUndefined();
    expect(linkTo(topology, "pop-a-uplink")?.upstream).toEqual({ service: "origin", port: 80 });
  });
});

describe("PoP targets", () => {
  const rng = () => seededRandom(7);

  it("count a PoP's edges as out while its load balancer is: one PoP may go, not both", async () => {
    const topology = await loadTopology("topologies/two-pops.yaml");
    const plan = (method: string) =>
      planFaults(
        parseYamlWithSchema(
          "e.yaml",
          `version: 1\nname: e\nload: { rate: 10/s }\nsteadyState: { checks: [{ metric: errors.rate, below: 1% }] }\nmethod:\n${method}`,
          experimentSchema,
        ),
        topology,
        1,
      );
    expect(plan("  - { fault: node-kill, target: { pop: pop-a, role: lb }, for: 10s }").actions).toHaveLength(
      1,
    );
    expect(() =>
      plan(
        "  - { fault: node-kill, target: { pop: pop-a, role: lb }, for: 10s }\n  - { fault: node-kill, target: { pop: pop-b, role: lb }, for: 10s }",
      ),
    ).toThrow(/leave 0 of 4 edges serving \(pop-a-lb, pop-b-lb disrupted\)/);
    // A partition says whether it cuts a link or a service from what the topology knows.
    expect(
      plan("  - { fault: partition, target: { pop: pop-a, link: uplink }, for: 10s }").actions[0]
        ?.description,
    ).toBe("cut link pop-a-uplink (packets dropped both ways)");
    expect(plan("  - { fault: partition, target: pop-a-edge-1, for: 10s }").actions[0]?.description).toBe(
      "cut pop-a-edge-1 off the network",
    );
  });

  it("resolve to a PoP's edges, its load balancer or one of its links", async () => {
    const topology = await loadTopology("topologies/two-pops.yaml");
    expect(resolveTarget(target({ pop: "pop-b" }), topology, rng())).toEqual([
      "pop-b-edge-1",
      "pop-b-edge-2",
    ]);
    expect(resolveTarget(target({ pop: "pop-b", role: "edge" }), topology, rng())).toEqual([
      "pop-b-edge-1",
      "pop-b-edge-2",
    ]);
    expect(resolveTarget(target({ pop: "pop-b", role: "lb" }), topology, rng())).toEqual(["pop-b-lb"]);
    expect(resolveTarget(target({ pop: "pop-b", link: "uplink" }), topology, rng())).toEqual([
      "pop-b-uplink",
    ]);
    expect(resolveTarget(target({ pop: "pop-a", link: "ingress" }), topology, rng())).toEqual([
      "pop-a-ingress",
    ]);
  });

  it("pick chooses among the PoP's own edges, reproducibly", async () => {
    const topology = await loadTopology("topologies/two-pops.yaml");
    const seen = new Set<string>();
    for (let seed = 0; seed < 20; seed++) {
      const picked = resolveTarget(target({ pop: "pop-b", pick: 1 }), topology, seededRandom(seed));
      expect(picked).toHaveLength(1);
      expect(["pop-b-edge-1", "pop-b-edge-2"]).toContain(picked[0]);
      expect(resolveTarget(target({ pop: "pop-b", pick: 1 }), topology, seededRandom(seed))).toEqual(picked);
      for (const p of picked) seen.add(p);
    }
    expect([...seen].sort()).toEqual(["pop-b-edge-1", "pop-b-edge-2"]);
    expect(resolveTarget(target({ pop: "pop-a", percent: "50%" }), topology, rng())).toHaveLength(1);
    expect(() => resolveTarget(target({ pop: "pop-a", role: "lb", pick: 2 }), topology, rng())).toThrow(
      "cannot pick 2 of 1 matching services",
    );
  });

  it("an unknown PoP is an error naming the known ones", async () => {
    const topology = await loadTopology("topologies/two-pops.yaml");
    let error: unknown;
    try {
      resolveTarget(target({ pop: "pop-z" }), topology, rng());
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).message).toBe('replica two-pops has no PoP "pop-z"');
    expect((error as InvalidInputError).suggestion).toBe("its PoPs: pop-a, pop-b");
  });

  it("a PoP target on a single-PoP replica suggests a multi-PoP topology", () => {
    let error: unknown;
    try {
      resolveTarget(target({ pop: "pop-a" }), defaultTopology(), rng());
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).message).toBe(
      'replica default is a single PoP: there is no PoP "pop-a" to target',
    );
    expect((error as InvalidInputError).suggestion).toMatch(/multi-PoP topology file with `replica:`/);
    expect((error as InvalidInputError).suggestion).toContain("topologies/two-pops.yaml");
  });

  it("links are targets by name in a multi-PoP replica", async () => {
    const topology = await loadTopology("topologies/two-pops.yaml");
    expect(resolveTarget(target("pop-b-uplink"), topology, rng())).toEqual(["pop-b-uplink"]);
    expect(() => resolveTarget(target("pop-c-uplink"), topology, rng())).toThrow(
      'no service or link "pop-c-uplink" to target in replica two-pops',
    );
  });

  const targetError = (t: string) => {
    try {
      parseYamlWithSchema(
        "e.yaml",
        validExperimentYaml.replace("target: edge-1", `target: ${t}`),
        experimentSchema,
      );
    } catch (e) {
      if (e instanceof ValidationError) return e.message;
      throw e;
    }
    throw new Error("expected a validation error");
  };
  const GENERIC =
    "expected a service or link name (e.g. edge-1), { role: edge, pick: 1 }, { pop: pop-b }, { pop: pop-b, link: uplink } or { labels: {...}, percent: 50% }";

  it("a PoP's link takes no role, pick or percent: refused, with the reason, when the target resolves", async () => {
    expect(targetError("{ pop: pop-b, link: downlink }")).toBe(`e.yaml:14:13 method[0].target: ${GENERIC}`);
    const topology = await loadTopology("topologies/two-pops.yaml");
    for (const extra of [{ pick: 1 }, { percent: "50%" }, { role: "lb" }]) {
      expect(() =>
        resolveTarget(target({ pop: "pop-b", link: "uplink", ...extra }), topology, rng()),
      ).toThrow("a PoP's uplink is one link: it takes no role, pick or percent");
    }
    // Alone, a link is fine.
    expect(target({ pop: "pop-b", link: "uplink" })).toEqual({
      kind: "pop",
      pop: "pop-b",
      role: undefined,
      link: "uplink",
      pick: undefined,
      percent: undefined,
    });
  });
});

describe("experiments against a multi-PoP topology file", () => {
  const setup = (topologyYaml: string, method: string) => {
    const dir = tempDir("faultline-multi-pop-");
    writeFileSync(join(dir, "pop.yaml"), topologyYaml);
    const file = join(dir, "exp.yaml");
    const yaml = validExperimentYaml
      .replace("name: unit-test", "name: unit-test\nreplica: pop.yaml")
      .replace(/method:\n[\s\S]*$/, `method:\n${method}`);
    writeFileSync(file, yaml);
    return file;
  };
  const failure = async (file: string): Promise<ValidationError> => {
    const error = await loadExperiment(file).catch((e: unknown) => e);
    if (!(error instanceof ValidationError))
      throw new Error(`expected a ValidationError, got ${String(error)}`);
    return error;
  };
  const latencyOn = (t: string) => `  - fault: latency
    target: ${t}
    latency: 150ms
    for: 20s
`;

  it("loads with the topology and resolves PoP targets", async () => {
    const file = setup(
      readFileSync("topologies/two-pops.yaml", "utf8"),
      "  - fault: node-kill\n    target: { pop: pop-a }\n    for: 20s\n",
    );
    const loaded = await loadExperiment(file);
    expect(loaded.topology?.pops?.map((p) => p.name)).toEqual(["pop-a", "pop-b"]);
    expect(loaded.experiment.method[0]?.target).toMatchObject({ kind: "pop", pop: "pop-a" });
  });

  it("an unknown PoP is located at the fault's target", async () => {
    const file = setup(
      readFileSync("topologies/two-pops.yaml", "utf8"),
      "  - fault: node-kill\n    target: { pop: pop-z }\n    for: 20s\n",
    );
    const error = await failure(file);
    expect(error.message).toBe(`${file}:15:13 method[0].target: replica two-pops has no PoP "pop-z"`);
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]?.suggestion).toBe("its PoPs: pop-a, pop-b");
    expect(error.suggestion).toBe("its PoPs: pop-a, pop-b");
  });

  it("a latency fault on a direct link is located at the fault", async () => {
    const topology = twoPops("origin: { shield: true }\nlinks:\n  direct: [pop-a-edge-1]\n");
    const error = await failure(setup(topology, latencyOn("pop-a-edge-1")));
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatchObject({
      line: 14,
      column: 5,
      path: "method[0]",
      message: "link pop-a-edge-1 bypasses Toxiproxy, so the latency fault cannot act on it",
      suggestion: "remove it from links.direct in the topology file, or target another link",
    });
    expect(error.message).toMatch(/exp\.yaml:14:5 method\[0\]: link pop-a-edge-1 bypasses Toxiproxy/);
    // The other edge of the PoP is still proxied.
    await expect(loadExperiment(setup(topology, latencyOn("pop-a-edge-2")))).resolves.toBeDefined();
  });

  it("a latency fault on the origin needs a shield when several PoPs' uplinks reach it", async () => {
    const error = await failure(setup(twoPops(), latencyOn("origin")));
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatchObject({
      line: 14,
      column: 5,
      path: "method[0]",
      message: "origin has 2 links in front of it; the latency fault needs one",
      suggestion: "target one of its links: pop-a-uplink, pop-b-uplink",
    });
    // Naming one of the uplinks works; with a shield, the origin has a single link.
    await expect(loadExperiment(setup(twoPops(), latencyOn("pop-b-uplink")))).resolves.toBeDefined();
    await expect(
      loadExperiment(setup(twoPops("origin: { shield: true }\n"), latencyOn("origin"))),
    ).resolves.toBeDefined();
    await expect(
      loadExperiment(setup(twoPops(), latencyOn("{ pop: pop-a, link: uplink }"))),
    ).resolves.toBeDefined();
  });

  it("an invalid topology file is reported where it is wrong", async () => {
    const error = await failure(setup(twoPops("global: { policy: nearest }\n"), latencyOn("pop-a-uplink")));
    expect(error.message).toMatch(
      /pop\.yaml:9:19 global\.policy: expected policy to be one of primary-backup, weighted$/,
    );
  });
});

describe("cross-PoP timings", () => {
  const t0 = Date.parse("2025-01-01T00:00:00.000Z");
  const at = (seconds: number) => new Date(t0 + seconds * 1000).toISOString();
  const pops = {
    "pop-a": {
      lb: "pop-a-lb",
      edges: ["pop-a-edge-1", "pop-a-edge-2"],
      uplink: "pop-a-uplink",
      ingress: "pop-a-ingress",
    },
    "pop-b": {
      lb: "pop-b-lb",
      edges: ["pop-b-edge-1", "pop-b-edge-2"],
      uplink: "pop-b-uplink",
      ingress: "pop-b-ingress",
    },
  };
  const runStarted = (withPops: boolean): JournalEvent => ({
    at: at(-5),
    type: "run-started",
    runId: "r1",
    experiment: { name: "pop-failover", file: "pop-failover.yaml" },
    replica: "two-pops",
    edges: [...pops["pop-a"].edges, ...pops["pop-b"].edges],
    ...(withPops ? { pops } : {}),
    load: { driver: "test", version: "0", url: "http://127.0.0.1", ratePerSecond: 10 },
    plan: {
      windowSeconds: 5,
      warmupSeconds: 5,
      baselineSeconds: 10,
      injectSeconds: 10,
      recoverSeconds: 5,
      verifySeconds: 5,
      recoveryTargetMs: 10_000,
    },
    seed: 1,
  });
  const intent = (id: string, service: string, seconds: number): JournalEvent => ({
    at: at(seconds),
    type: "fault-intent",
    id,
    fault: "node-kill",
    target: service,
    description: `kill ${service}`,
    params: {},
  });
  const applied = (id: string, seconds: number): JournalEvent => ({
    at: at(seconds),
    type: "fault-applied",
    id,
    second: Math.floor(seconds),
  });
  const reverted = (id: string, seconds: number): JournalEvent => ({
    at: at(seconds),
    type: "fault-reverted",
    id,
    second: Math.floor(seconds),
  });
  const popState = (name: string, state: string, seconds: number): JournalEvent => ({
    at: at(seconds),
    type: "pop-state",
    pop: name,
    state,
  });

  /**
   * 10 requests a second for 30s, one every 100ms. pop-a serves everything until its edges are
   * killed at 10.2s; requests fail until the global layer moves clients to pop-b during second
   * 11; pop-a serves again from second 22.
   */
  type Served = "pop-a" | "pop-b" | "error";
  /** 10 requests a second for 30s, one every 100ms, each served by a PoP or failed. */
  const bucketsOf = (who: (second: number, k: number) => Served): MetricsBucket[] => {
    const aggregator = new BucketAggregator(t0, 0);
    for (let second = 0; second < 30; second++) {
      for (let k = 0; k < 10; k++) {
        const served = who(second, k);
        const sample: Partial<Sample> =
          served === "error"
            ? { status: 503, latencyMs: 3 }
            : { edge: `${served}-edge-${(k % 2) + 1}`, latencyMs: served === "pop-a" ? 20 : 45 };
        aggregator.add({
          startedAt: t0 + second * 1000 + k * 100,
          latencyMs: 0,
          status: 200,
          error: "",
          edge: undefined,
          ...sample,
        });
      }
    }
    return aggregator.releaseUpTo(30);
  };
  /**
   * pop-a serves everything until its edges are killed at 10.2s; requests fail until the
   * global layer moves clients to pop-b during second 11; pop-a serves again from second 22.
   */
  const buckets = () =>
    bucketsOf((second, k) =>
      second < 10 || (second === 10 && k < 2) || second >= 22
        ? "pop-a"
        : second === 10 || (second === 11 && k < 5)
          ? "error"
          : "pop-b",
    );

  const phases = [
    { phase: "warmup", start: -5, end: 0 },
    { phase: "baseline", start: 0, end: 10 },
    { phase: "inject", start: 10, end: 20 },
    { phase: "recover", start: 20, end: 25 },
    { phase: "verify", start: 25, end: 30 },
  ];

  const events = (): JournalEvent[] => [
    runStarted(true),
    // A flap long before the fault must not count as its detection or its return.
    popState("pop-a", "down", 2),
    popState("pop-a", "up", 3),
    intent("f1.pop-a-edge-1", "pop-a-edge-1", 10.1),
    intent("f1.pop-a-edge-2", "pop-a-edge-2", 10.15),
    applied("f1.pop-a-edge-1", 10.2),
    applied("f1.pop-a-edge-2", 10.25),
    popState("pop-b", "down", 11),
    popState("pop-a", "down", 11.5),
    reverted("f1.pop-a-edge-1", 20.3),
    reverted("f1.pop-a-edge-2", 20.35),
    popState("pop-a", "up", 21.8),
    // One edge of pop-b: not a whole PoP, so no failover.
    intent("f2.pop-b-edge-1", "pop-b-edge-1", 25),
    applied("f2.pop-b-edge-1", 25.1),
    reverted("f2.pop-b-edge-1", 27.1),
  ];

  it("the buckets are what the scenario says", () => {
    const all = buckets();
    expect(all).toHaveLength(30);
    expect(all.map((b) => b.all.count).every((n) => n === 10)).toBe(true);
    const servedBy = (b: MetricsBucket, p: "pop-a" | "pop-b") =>
      pops[p].edges.reduce((n, e) => n + (b.byEdge[e]?.count ?? 0), 0);
    expect(all.map((b) => servedBy(b, "pop-a"))).toEqual([
      ...Array(10).fill(10),
      2,
      ...Array(11).fill(0),
      ...Array(8).fill(10),
    ]);
    expect(all.map((b) => b.all.errors)).toEqual([...Array(10).fill(0), 8, 5, ...Array(18).fill(0)]);
  });

  it("measures detection, the move, what clients saw, and fail-back for a whole-PoP kill", () => {
    const all = buckets();
    const timings = measurePopTimings(events(), all, phases);
    expect(timings).toBeDefined();
    expect(timings?.share).toEqual({
      warmup: { "pop-a": 0, "pop-b": 0 },
      baseline: { "pop-a": 1, "pop-b": 0 },
      inject: { "pop-a": 0.02, "pop-b": 0.85 },
      recover: { "pop-a": 0.6, "pop-b": 0.4 },
      verify: { "pop-a": 1, "pop-b": 0 },
    });
    expect(timings?.failovers).toHaveLength(1);
    const [failover] = timings?.failovers ?? [];
    expect(failover).toMatchObject({
      fault: "f1",
      pop: "pop-a",
      kind: "node-kill",
      // From the last edge's kill (10.25s) to the global layer's "down" (11.5s).
      detectMs: 1250,
      // pop-a still served in second 10; from second 12 pop-b served every request.
      movedMs: 2000,
      duringMove: { requests: 20, errors: 13, errorRate: 0.65 },
      // From the first revert (20.3s) to "up" (21.8s).
      backInRotationMs: 1500,
      // Reverted in second 20; pop-a serves again in second 22.
      failBackMs: 2000,
    });
    expect(failover?.duringMove.p99Ms).toBeCloseTo(45, 0);
    expect(failover?.duringMove.p99Ms).toBe(windowStats(all.slice(10, 12)).latency?.p99);
  });

  it("renders the timings as lines", () => {
    const timings = measurePopTimings(events(), buckets(), phases);
    if (!timings) throw new Error("expected timings");
    const lines = popTimingLines(timings);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(
      "traffic share per PoP: baseline pop-a 100%, pop-b 0%; inject pop-a 2%, pop-b 85%; recover pop-a 60%, pop-b 40%; verify pop-a 100%, pop-b 0%",
    );
    expect(lines[1]).toMatch(
      /^PoP pop-a out \(f1, node-kill\): global layer marked it down after 1\.25s; traffic moved within 2\.00s; meanwhile 13 of 20 requests failed \(65\.0%\), p99 45ms$/,
    );
    expect(lines[2]).toBe(
      "PoP pop-a fail-back (f1): back in rotation 1.50s after the revert; serving again within 2.00s",
    );
    expect(lines.join("\n")).toContain("marked it down after");
    expect(lines.join("\n")).toContain("fail-back");
  });

  it("reports never when the global layer did not react and the PoP did not come back", () => {
    const quiet = events().filter(
      (e) => e.type !== "pop-state" && !(e.type === "fault-reverted" && e.id.startsWith("f1")),
    );
    // pop-a keeps failing for the rest of the run: no revert, no pop-state after the kill.
    const all = buckets().map((b) => (b.second >= 22 ? { ...b, byEdge: {} } : b));
    const timings = measurePopTimings(quiet, all, phases);
    expect(timings?.failovers[0]).toMatchObject({
      detectMs: null,
      // From second 22 no PoP serves: the traffic never settled on another PoP.
      movedMs: null,
      backInRotationMs: null,
      failBackMs: null,
    });
    const lines = popTimingLines(timings ?? { share: {}, failovers: [] });
    expect(lines[1]).toContain("marked it down after never");
    expect(lines[2]).toBe(
      "PoP pop-a fail-back (f1): back in rotation never after the revert; serving again within never",
    );
  });

  it("counts a PoP out when its load balancer or ingress link is the target", () => {
    const lbOut: JournalEvent[] = [
      runStarted(true),
      intent("f3.pop-a-lb", "pop-a-lb", 10.2),
      applied("f3.pop-a-lb", 10.3),
      popState("pop-a", "down", 11.3),
      reverted("f3.pop-a-lb", 20.3),
    ];
    const timings = measurePopTimings(lbOut, buckets(), phases);
    expect(timings?.failovers.map((f) => [f.fault, f.pop, f.detectMs])).toEqual([["f3", "pop-a", 1000]]);
    const ingressOut: JournalEvent[] = [
      runStarted(true),
      intent("f5.pop-b-ingress", "pop-b-ingress", 10.2),
      applied("f5.pop-b-ingress", 10.3),
      popState("pop-a", "down", 10.8),
      popState("pop-b", "down", 11.8),
      reverted("f5.pop-b-ingress", 20.3),
    ];
    expect(
      measurePopTimings(ingressOut, buckets(), phases)?.failovers.map((f) => [f.fault, f.pop, f.detectMs]),
    ).toEqual([["f5", "pop-b", 1500]]);
    // One edge of two is not the whole PoP.
    const oneEdge: JournalEvent[] = [
      runStarted(true),
      intent("f4.pop-a-edge-1", "pop-a-edge-1", 10.2),
      applied("f4.pop-a-edge-1", 10.3),
      reverted("f4.pop-a-edge-1", 20.3),
    ];
    expect(measurePopTimings(oneEdge, buckets(), phases)?.failovers).toEqual([]);
  });

  /**
   * pop-a's edges are killed right at second 10: pop-a serves nothing from then on, but every
   * request fails until the global layer marks pop-a down at 12.9s; pop-b serves from second 13.
   */
  const slowDetection = () => ({
    events: [
      runStarted(true),
      intent("f1.pop-a-edge-1", "pop-a-edge-1", 9.9),
      intent("f1.pop-a-edge-2", "pop-a-edge-2", 9.9),
      applied("f1.pop-a-edge-1", 10),
      applied("f1.pop-a-edge-2", 10),
      popState("pop-a", "down", 12.9),
      reverted("f1.pop-a-edge-1", 20),
      reverted("f1.pop-a-edge-2", 20),
      popState("pop-a", "up", 21.5),
    ],
    buckets: bucketsOf((second) => (second < 10 || second >= 22 ? "pop-a" : second < 13 ? "error" : "pop-b")),
  });

  // A killed PoP stops serving at once; its clients fail until the global layer moves them.
  it("traffic has moved only once clients are served by another PoP", () => {
    const { events: journal, buckets: all } = slowDetection();
    const failover = measurePopTimings(journal, all, phases)?.failovers[0];
    expect(failover?.detectMs).toBe(2900);
    expect(failover?.movedMs).toBe(3000);
    expect(failover?.duringMove.errors).toBe(30);
  });

  it("a fault that takes nothing out of service (latency on the ingress) is no failover", () => {
    const latency: JournalEvent[] = [
      runStarted(true),
      { ...intent("f4", "pop-a-ingress", 10.1), fault: "latency" } as JournalEvent,
      applied("f4", 10.2),
      reverted("f4", 20.2),
    ];
    expect(measurePopTimings(latency, buckets(), phases)?.failovers).toEqual([]);
  });

  it("a down event after the revert belongs to a later fault, not this one", () => {
    const late: JournalEvent[] = [
      runStarted(true),
      intent("f1.pop-a-edge-1", "pop-a-edge-1", 10.1),
      intent("f1.pop-a-edge-2", "pop-a-edge-2", 10.1),
      applied("f1.pop-a-edge-1", 10.2),
      applied("f1.pop-a-edge-2", 10.2),
      reverted("f1.pop-a-edge-1", 12),
      reverted("f1.pop-a-edge-2", 12),
      popState("pop-a", "down", 15),
    ];
    expect(measurePopTimings(late, buckets(), phases)?.failovers[0]?.detectMs).toBeNull();
  });

  it("a backup PoP that served nothing at baseline has no fail-back to measure", () => {
    const backup: JournalEvent[] = [
      runStarted(true),
      intent("f5.pop-b-edge-1", "pop-b-edge-1", 10.1),
      intent("f5.pop-b-edge-2", "pop-b-edge-2", 10.1),
      applied("f5.pop-b-edge-1", 10.2),
      applied("f5.pop-b-edge-2", 10.2),
      reverted("f5.pop-b-edge-1", 20.2),
      reverted("f5.pop-b-edge-2", 20.2),
    ];
    const onlyA = bucketsOf(() => "pop-a");
    const [failover] = measurePopTimings(backup, onlyA, phases)?.failovers ?? [];
    expect(failover).toMatchObject({ pop: "pop-b", failBackApplies: false, failBackMs: null });
    expect(popTimingLines({ share: {}, failovers: failover ? [failover] : [] })[1]).toContain(
      "it served no clients at baseline (a backup)",
    );
  });

  it("is undefined for a single-PoP run", () => {
    expect(measurePopTimings([runStarted(false)], buckets(), phases)).toBeUndefined();
    expect(measurePopTimings([], buckets(), phases)).toBeUndefined();
  });
});
