import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { describe, expect, it } from "vitest";
import { edgeConfig, haproxyConfig, shieldConfig, toxiproxyProxies } from "../../src/replica/configs.js";
import { parseHaproxyCsv } from "../../src/replica/replica.js";
import { NGINX_ROUTE_MODULES } from "../../src/replica/route-lua.js";
import {
  containerName,
  defaultTopology,
  NGINX_ROUTE_CONF,
  NGINX_ROUTE_RULE,
  routesInNginx,
} from "../../src/replica/topology.js";

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

describe("the http-route hook in nginx", () => {
  it("is in the edges' config only with Faultline's image, and the origin's image config loads Lua", () => {
    const hooked = edgeConfig("edge-1", {}, false, true);
    expect(hooked.startsWith(NGINX_ROUTE_MODULES.join("\n"))).toBe(true);
    expect(hooked).toContain("server_rewrite_by_lua_block");
    expect(hooked).toContain(NGINX_ROUTE_RULE);
    expect(edgeConfig("edge-1")).not.toContain("lua");
    const origin = readFileSync("docker/origin/nginx.conf", "utf8");
    for (const line of NGINX_ROUTE_MODULES) expect(origin).toContain(line);
    expect(origin).toContain(`include ${dirname(NGINX_ROUTE_CONF)}/*.conf;`);
  });

  it("is read only by Faultline's nginx, never by the user's own parts or an attached stack", () => {
    const topology = defaultTopology("x", 2);
    const edge = topology.services.find((s) => s.name === "edge-1");
    if (!edge) throw new Error("no edge-1");
    expect(routesInNginx(topology, edge)).toBe(true);
    expect(routesInNginx(topology, { ...edge, own: { command: ["nginx"] } })).toBe(false);
    expect(routesInNginx(topology, { ...edge, role: "lb" })).toBe(false);
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
