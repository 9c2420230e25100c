import { describe, expect, it } from "vitest";
import { edgeConfig, haproxyConfig, shieldConfig, toxiproxyProxies } from "../../src/replica/configs.js";
import { parseHaproxyCsv } from "../../src/replica/replica.js";
import { containerName, defaultTopology } from "../../src/replica/topology.js";

describe("default topology", () => {
  it("puts every LB->edge link and the edge->origin link through Toxiproxy", () => {
    const topology = defaultTopology("default", 3);
    expect(topology.links.map((l) => l.name)).toEqual(["edge-1", "edge-2", "edge-3", "origin"]);
    expect(toxiproxyProxies(topology)[0]).toEqual({
      name: "edge-1",
      listen: "0.0.0.0:20001",
      upstream: "edge-1:80",
      enabled: true,
    });
    expect(containerName(topology, "lb")).toBe("faultline-default-lb");
  });

  it("renders an HAProxy backend with a health-checked server per edge, through its link", () => {
    const config = haproxyConfig(defaultTopology("x", 2));
    expect(config).toContain("server edge-1 toxiproxy:20001 check");
    expect(config).toContain("server edge-2 toxiproxy:20002 check");
    expect(config).toMatch(/default-server inter 1000 fall 2 rise 2 .*allow-dup-ip/);
    expect(config).toContain("prometheus-exporter");
  });

  it("renders an edge that names itself and reaches the origin through Toxiproxy", () => {
    const config = edgeConfig("edge-2");
    expect(config).toContain("add_header X-Edge edge-2 always;");
    expect(config).toContain("server toxiproxy:21000;");
  });

  it("renders a shield that caches like an edge but never claims to be one", () => {
    const config = shieldConfig("toxiproxy:21000");
    expect(config).toContain("server toxiproxy:21000;");
    expect(config).toContain("keys_zone=shield:10m");
    expect(config).toContain("add_header X-Shield $upstream_cache_status always;");
    // Clients read X-Edge: a shield's would pass through the edge and name the wrong server.
    expect(config).not.toContain("X-Edge");
  });
});

describe("parseHaproxyCsv", () => {
  it("maps HAProxy's server states", () => {
    const csv = [
      "# pxname,svname,qcur,status,check_status",
      "pop,FRONTEND,,OPEN,",
      "edges,edge-1,,UP,L7OK",
      "edges,edge-2,,DOWN,L4CON",
      "edges,edge-3,,UP 1/2,L7OK",
      "edges,edge-4,,MAINT (resolution),",
      "edges,BACKEND,,UP,",
    ].join("\n");
    const states = parseHaproxyCsv(csv, ["edge-1", "edge-2", "edge-3", "edge-4"]);
    expect(Object.fromEntries(states)).toEqual({
      "edge-1": "up",
      "edge-2": "down",
      "edge-3": "going-down",
      "edge-4": "maintenance",
    });
  });
});
