import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { parseYamlWithSchema } from "../../src/format/located-yaml.js";
import { templateValues } from "../../src/replica/own-parts.js";
import { edgeStates, popStates } from "../../src/replica/replica.js";
import { judgedEdges } from "../../src/replica/topology.js";
import { loadTopology, topologySchema } from "../../src/replica/topology-file.js";
import { topologyError, topologyFiles } from "../support/topology-files.js";
import { validationMessage } from "../support/validation.js";

// Own parts on a multi-PoP topology: each PoP's load balancer, the global layer and the
// shield take the user's image, config, env, command and health, as the single PoP's do.

const EXAMPLE = "examples/own-configs/two-pops.yaml";
const problems = (yaml: string): string =>
  validationMessage(() => parseYamlWithSchema("t.yaml", yaml, topologySchema));

const TWO_POPS = `version: 1
name: x
pops:
  - { name: a, edges: 2, loadBalancer: { config: lb.cfg } }
  - { name: b, edges: [b1], loadBalancer: { config: lb.cfg, stats: { path: /s, backend: be } } }
global: { config: g.cfg }
origin: { shield: true }
shield: { config: s.conf, env: { MODE: shield } }
`;

describe("own parts on a multi-PoP topology", () => {
  it("the example: the global layer's PoPs are their ingress links, pop-a's edges its links, the shield's origin its link", async () => {
    const topology = await loadTopology(EXAMPLE);
    const global = topology.services.find((s) => s.name === "global");
    expect(global?.own?.config?.at).toBe("/etc/haproxy/haproxy.cfg");
    const content = global?.own?.config?.content ?? "";
    expect(content).toContain("  server pop-a toxiproxy:22001 check \n");
    expect(content).toContain("  server pop-b toxiproxy:22002 check backup\n");
    expect(content).toContain("  option httpchk GET /pop-health\n");
    expect(content).toContain("  bind :8405\n");
    expect(content).toContain("  default-server inter 250ms fall 3 rise 2\n");
    expect(topology.global?.stats).toEqual({ path: "/stats", backend: "pops" });
    const popA = topology.services.find((s) => s.name === "pop-a-lb");
    expect(popA?.own?.config?.content).toContain("  server pop-a-edge-2 toxiproxy:20002 check\n");
    expect(popA?.own?.config?.content).not.toContain("pop-b-edge");
    expect(popA?.own?.config?.content).toContain("  monitor-uri /pop-health\n");
    expect(popA?.own?.config?.content).toContain("set-header X-Pop pop-a\n");
    expect(topology.pops?.map((p) => p.stats)).toEqual([{ path: "/stats", backend: "edges" }, undefined]);
    // pop-b keeps Faultline's config and the checks it was given.
    expect(topology.services.find((s) => s.name === "pop-b-lb")?.own).toBeUndefined();
    expect(topology.pops?.[1]?.healthCheck).toEqual({ intervalMs: 500, timeoutMs: 1000, fall: 2, rise: 2 });
    const shield = topology.services.find((s) => s.name === "shield");
    expect(shield?.own?.config?.at).toBe("/etc/nginx/nginx.conf");
    expect(shield?.own?.config?.content).toContain(
      "upstream origin { server toxiproxy:21000; keepalive 16; }",
    );
    expect(shield?.own?.config?.content).toContain("listen 80 default_server;");
    expect(judgedEdges(topology)).toEqual(topology.edges);
  });

  it("each placeholder set is the service's own; one PoP's LB sees only its edges", async () => {
    const topology = await loadTopology(
      topologyFiles(TWO_POPS, {
        "lb.cfg": "bind :{{ listen }}\nserver {{ edge.name }} {{ edge.address }}\n",
        "g.cfg": "bind :{{ listen }}\nserver {{ pop.name }} {{ pop.address }} weight {{ pop.weight }}\n",
        "s.conf": "server {{ origin.address }};\n",
      }),
    );
    const values = (name: string) => {
      const service = topology.services.find((s) => s.name === name);
      if (!service) throw new Error(`no ${name}`);
      return templateValues(topology, service);
    };
    expect(values("b-lb").lists.edge).toEqual([{ name: "b1", address: "toxiproxy:20003" }]);
    expect(values("b-lb").scalars).toMatchObject({ "pop.name": "b", "pop.health": "/pop-health" });
    expect(values("global").lists.pop?.map((p) => p.address)).toEqual(["toxiproxy:22001", "toxiproxy:22002"]);
    expect(values("shield").scalars).toMatchObject({ "origin.address": "toxiproxy:21000", listen: "80" });
    expect(topology.services.find((s) => s.name === "b-lb")?.own?.config?.content).toBe(
      "bind :80\nserver b1 toxiproxy:20003\n",
    );
    expect(topology.services.find((s) => s.name === "shield")?.own?.env).toEqual({ MODE: "shield" });
    // Without a stats page, a view is not available: a's edges are not judged, up waits on GET /.
    expect(topology.pops?.map((p) => p.stats)).toEqual([false, { path: "/s", backend: "be" }]);
    expect(topology.global?.stats).toBe(false);
    expect(judgedEdges(topology)).toEqual(["b1"]);
    expect(topology.services.find((s) => s.name === "a-lb")?.own?.health).toEqual({ path: "/", port: 80 });
    expect(topology.services.find((s) => s.name === "a-lb")?.publish).toEqual([8405, 80]);
    expect(topology.services.find((s) => s.name === "global")?.own?.health).toEqual({ path: "/", port: 80 });
  });

  it("an unknown placeholder in the global layer's config is located, naming the valid ones", async () => {
    const error = await topologyError(
      topologyFiles(TWO_POPS, {
        "lb.cfg": "bind :{{ listen }}\n",
        "g.cfg": "backend pops\n  server {{ pop.name }} {{ edge.address }} check\n",
        "s.conf": "x\n",
      }),
    );
    expect(error.message).toMatch(
      /g\.cfg:2:25 unknown placeholder \{\{ edge\.address \}\} in global's config \(named at .*topology\.yaml:6:19\)/,
    );
    expect(error.message).toContain("{{ pop.address }}, {{ pop.backup }}, {{ pop.name }}, {{ pop.weight }}");
    expect(error.suggestion).toContain("did you mean {{ pop.address }}?");
    const shield = await topologyError(
      topologyFiles(TWO_POPS, {
        "lb.cfg": "x\n",
        "g.cfg": "x\n",
        "s.conf": "server {{ upstream.orgin }};\n",
      }),
    );
    expect(shield.message).toMatch(
      /s\.conf:1:8 unknown placeholder \{\{ upstream\.orgin \}\} in shield's config/,
    );
    expect(shield.suggestion).toContain("did you mean {{ upstream.origin }}?");
  });

  it("refuses settings the user's config would ignore, stats without a config, and a shield: without a shield", () => {
    const message = problems(`version: 1
name: x
pops:
  - name: a
    edges: 2
    loadBalancer: { config: a.cfg, healthCheck: { interval: 300ms }, balance: leastconn }
  - name: b
    edges: 2
    loadBalancer: { stats: { path: /s } }
global:
  config: g.cfg
  healthCheck: { fall: 3 }
  image: mine
  build: there
shield: { config: s.conf }
`);
    expect(message).toContain(
      "t.yaml:6:49 pops[0].loadBalancer.healthCheck: expected healthCheck only with Faultline's own HAProxy config; your config (pops[0].loadBalancer.config) sets its own",
    );
    expect(message).toContain("pops[0].loadBalancer.balance: expected balance only with Faultline's own");
    expect(message).toContain(
      "pops[1].loadBalancer.stats: expected stats only with your own config (pops[1].loadBalancer.config)",
    );
    expect(message).toContain(
      "t.yaml:12:16 global.healthCheck: expected healthCheck only with Faultline's own HAProxy config; your config (global.config)",
    );
    expect(message).toContain("global.build: expected image (yours, on this engine) or build");
    expect(message).toContain(
      "shield: expected shield: (the shield's own parts) only with origin: { shield: true }",
    );
    expect(
      problems(
        "version: 1\nname: x\npops: [{ name: a, edges: 1 }, { name: b, edges: 1 }]\nglobal: { stats: {} }\n",
      ),
    ).toContain("global.stats: expected stats only with your own config (global.config)");
  });
});

describe("the views of the user's load balancers", () => {
  it("are read from each config's own stats page and backend; a PoP without one gives no edge states", async () => {
    const topology = await loadTopology(
      topologyFiles(
        TWO_POPS.replace("global: { config: g.cfg }", "global: { config: g.cfg, stats: { path: /gs } }"),
        {
          "lb.cfg": "x\n",
          "g.cfg": "x\n",
          "s.conf": "x\n",
        },
      ),
    );
    const csv = (backend: string, rows: string[]) =>
      `# pxname,svname,status\n${rows.map((r) => `${backend},${r}`).join("\n")}\n`;
    const pages: Record<string, string> = {
      "/s;csv;norefresh": csv("be", ["b1,DOWN", "FRONTEND,OPEN"]),
      "/gs;csv;norefresh": csv("pops", ["a,UP", "b,UP 1/2"]),
    };
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(req.url ?? "");
      const page = pages[req.url ?? ""];
      res.writeHead(page ? 200 : 404).end(page ?? "");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const replica = {
        topology,
        endpoints: {
          lb: base,
          lbStats: base,
          lbStatsCsv: `${base}/gs;csv;norefresh`,
          pops: { a: { lbStats: "" }, b: { lbStats: base, lbStatsCsv: `${base}/s;csv;norefresh` } },
          toxiproxy: "",
          prometheus: "",
        },
      };
      expect(Object.fromEntries(await edgeStates(replica))).toEqual({ b1: "down" });
      expect(Object.fromEntries(await popStates(replica))).toEqual({ a: "up", b: "going-down" });
      expect(seen.sort()).toEqual(["/gs;csv;norefresh", "/s;csv;norefresh"]);
    } finally {
      server.close();
    }
  });
});
