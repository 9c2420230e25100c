import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type Docker from "dockerode";
import { afterEach, describe, expect, it } from "vitest";
import { EnvironmentError, InvalidInputError, ValidationError } from "../../src/errors.js";
import { loadExperiment } from "../../src/experiments/loader.js";
import { planFaults } from "../../src/experiments/plan.js";
import {
  type AttachSettings,
  attachedTopology,
  attachSchema,
  discoverStack,
  LABEL_ATTACH,
  LABEL_COMPOSE_PROJECT,
  LABEL_COMPOSE_SERVICE,
} from "../../src/replica/attach.js";
import { LABEL_REPLICA, LABEL_ROLE } from "../../src/replica/docker.js";
import { type DockerEngine, type ListQuery, useEngine } from "../../src/replica/engine.js";
import { replicaDown, replicaUp } from "../../src/replica/replica.js";
import { containerName } from "../../src/replica/topology.js";
import { replicaFor } from "../../src/replica/topology-file.js";
import { tempDir } from "../support/temp.js";

const EXAMPLE = join(import.meta.dirname, "../../examples/compose-pop/experiment.yaml");

function container(
  id: string,
  labels: Record<string, string>,
  options: { state?: string; ports?: Docker.Port[] } = {},
): Docker.ContainerInfo {
  return {
    Id: id,
    Names: [`/${id}-name`],
    Image: "img",
    ImageID: "sha256:img",
    Command: "",
    Created: 0,
    Ports: options.ports ?? [],
    Labels: labels,
    State: options.state ?? "running",
    Status: "",
    HostConfig: { NetworkMode: "shop_default" },
    NetworkSettings: {
      Networks: {
        shop_default: {
          NetworkID: "n",
          EndpointID: "e",
          Gateway: "",
          IPAddress: "172.20.0.2",
          IPPrefixLen: 16,
          IPv6Gateway: "",
          GlobalIPv6Address: "",
          GlobalIPv6PrefixLen: 0,
          MacAddress: "",
        },
      },
    },
    Mounts: [],
  };
}

const composed = (project: string, service: string, options: Parameters<typeof container>[2] = {}) =>
  container(
    `${project}-${service}-id`,
    { [LABEL_COMPOSE_PROJECT]: project, [LABEL_COMPOSE_SERVICE]: service },
    options,
  );

/** The shop project: lb publishing 8480 on loopback, two edges, an origin; plus another project's edge. */
const SHOP = [
  composed("shop", "lb", { ports: [{ IP: "127.0.0.1", PrivatePort: 80, PublicPort: 8480, Type: "tcp" }] }),
  composed("shop", "edge-1"),
  composed("shop", "edge-2"),
  composed("shop", "origin"),
  composed("other", "edge-1"),
  // Faultline's own sidecar on the stack: never mistaken for one of its services.
  container("sidecar", {
    [LABEL_COMPOSE_PROJECT]: "shop",
    [LABEL_REPLICA]: "shop",
    [LABEL_ROLE]: "netfilter",
  }),
];

/** A fake engine over a fixed container list: lists filter by label, everything else is recorded. */
function fakeEngine(containers: Docker.ContainerInfo[]): { calls: string[]; restore: () => void } {
  const calls: string[] = [];
  const matches = (c: Docker.ContainerInfo, query: ListQuery) =>
    (query.filters?.label ?? []).every((filter) => {
      const [key = "", value] = filter.split("=");
      return c.Labels[key] === value;
    });
  const fake = new Proxy({} as DockerEngine, {
    get: (_, name) => {
      if (name === "address") return "fake://engine";
      if (name === "listContainers")
        return async (query: ListQuery) => containers.filter((c) => matches(c, query));
      return async () => {
        calls.push(String(name));
        return [];
      };
    },
  });
  return { calls, restore: useEngine(fake) };
}

const settings = (extra: Record<string, unknown> = {}): AttachSettings =>
  attachSchema.parse({
    compose: "shop",
    entry: "http://127.0.0.1:8480",
    roles: { lb: ["lb"], edge: ["edge-1", "edge-2"], origin: ["origin"] },
    ...extra,
  });

function experimentFile(
  replica: string,
  method = "  - { fault: node-kill, target: edge-1, for: 5s }",
  checks = "[{ metric: errors.rate, below: 1% }]",
): string {
  const file = join(tempDir("faultline-attach-"), "exp.yaml");
  writeFileSync(
    file,
    `version: 1
name: attach-test
replica:
${replica}
load: { rate: 10/s }
steadyState:
  checks: ${checks}
method:
${method}
`,
  );
  return file;
}

const SHOP_ATTACH = `  attach:
    compose: shop
    entry: http://127.0.0.1:8480
    roles: { lb: [lb], edge: [edge-1, edge-2], origin: [origin] }`;

async function loadError(file: string): Promise<ValidationError> {
  const error = await loadExperiment(file).catch((e: unknown) => e);
  if (error instanceof ValidationError) return error;
  throw new Error(`expected a validation error, got ${String(error)}`);
}

let restore: (() => void) | undefined;
afterEach(() => {
  restore?.();
  restore = undefined;
});

describe("attach settings", () => {
  it("the example experiment attaches to its Compose project, its params filling project and port", async () => {
    const loaded = await loadExperiment(EXAMPLE);
    expect(loaded.attach).toMatchObject({
      compose: "compose-pop",
      entry: "http://127.0.0.1:8480",
      stats: { path: "/lb-stats", backend: "edges" },
      roles: { lb: ["lb"], edge: ["edge-1", "edge-2", "edge-3"], origin: ["origin"] },
    });
    const other = await loadExperiment(EXAMPLE, { params: { project: "it-pop", port: "9123" } });
    expect(other.attach?.compose).toBe("it-pop");
    expect(other.attach?.entry).toBe("http://127.0.0.1:9123");
    const shape = replicaFor(other, undefined, 3);
    expect(shape.name).toBe("it-pop");
    expect(shape.topology.attach?.by).toBe("compose");
    expect(() => replicaFor(other, "elsewhere", 3)).toThrow(/keeps its own name/);
  });

  it("refuses an entry point off loopback, at its line", async () => {
    const error = await loadError(experimentFile(SHOP_ATTACH.replace("127.0.0.1", "10.0.0.5")));
    expect(error.issues[0]).toMatchObject({ path: "replica.attach.entry", line: 6 });
    expect(error.issues[0]?.message).toMatch(/loopback/);
  });

  it("wants exactly one of compose or label, and each service in one role", async () => {
    const both = await loadError(
      experimentFile(SHOP_ATTACH.replace("compose: shop", "compose: shop\n    label: shop")),
    );
    expect(both.message).toMatch(/exactly one of compose .* or label/);
    const twice = await loadError(
      experimentFile(SHOP_ATTACH.replace("origin: [origin]", "origin: [edge-1]")),
    );
    expect(twice.issues[0]).toMatchObject({ path: "replica.attach.roles.origin[0]" });
    const unknown = await loadError(
      experimentFile(SHOP_ATTACH.replace("compose: shop", "compose: shop\n    project: x")),
    );
    expect(unknown.message).toMatch(/project/);
  });

  it("serves the runs' series on the stack's network only when asked, on a port of 1024 or above", async () => {
    const settings = (series: string) =>
      attachSchema.parse({
        compose: "shop",
        series: JSON.parse(series),
        roles: { lb: ["lb"], edge: ["e1"] },
      });
    expect(attachedTopology(settings("true")).attach?.series).toEqual({});
    expect(attachedTopology(settings('{"port": 9405}')).attach?.series).toEqual({ port: 9405 });
    expect(
      attachedTopology(attachSchema.parse({ compose: "shop", roles: { lb: ["lb"], edge: ["e1"] } })).attach,
    ).not.toHaveProperty("series");
    const low = await loadError(
      experimentFile(SHOP_ATTACH.replace("compose: shop", "compose: shop\n    series: { port: 80 }")),
    );
    expect(low.issues[0]).toMatchObject({ path: "replica.attach.series.port", line: 6 });
  });

  it("plans link faults on an attached stack as the link into the target from its clients", async () => {
    const loaded = await loadExperiment(
      experimentFile(
        SHOP_ATTACH,
        [
          "  - { fault: latency, target: edge-1, latency: 100ms, for: 5s }",
          "  - { fault: reset, target: origin, for: 5s }",
        ].join("\n"),
      ),
    );
    const plan = planFaults(loaded.experiment, attachedTopology(settings()), 1);
    expect(plan.actions.map((a) => a.description)).toEqual([
      "latency 100ms on link lb -> edge-1 (downstream)",
      "connection resets on link edge-1, edge-2 -> origin (both)",
    ]);
  });

  it("refuses a link fault on the load balancer, and ports of services it does not map, where they are written", async () => {
    const lb = await loadError(
      experimentFile(SHOP_ATTACH, "  - { fault: latency, target: lb, latency: 100ms, for: 5s }"),
    );
    expect(lb.issues[0]?.path).toBe("method[0]");
    expect(lb.message).toMatch(/lb is the load balancer, whose clients are outside it/);
    expect(lb.issues[0]?.suggestion).toMatch(/target an edge or the origin \(edge-1, edge-2, origin\)/);
    const ports = await loadError(experimentFile(`${SHOP_ATTACH}\n    ports: { origin: 8080, cache: 80 }`));
    expect(ports.issues[0]).toMatchObject({ path: "replica.attach.ports.cache" });
    expect(ports.message).toMatch(/expected a service named in roles; "cache" is not/);
    const bad = await loadError(experimentFile(`${SHOP_ATTACH}\n    ports: { origin: 70000 }`));
    expect(bad.issues[0]?.path).toBe("replica.attach.ports.origin");
  });

  it("refuses probes that need Faultline's own Prometheus or endpoints, where they are written", async () => {
    const method = "  - { fault: node-kill, target: edge-1, for: 5s }";
    const promql = await loadError(
      experimentFile(SHOP_ATTACH, method, '[{ name: up, promql: "haproxy_up", atLeast: 1 }]'),
    );
    expect(promql.issues[0]?.path).toBe("steadyState.checks[0].promql");
    expect(promql.message).toMatch(
      /not available with this config: promql queries Faultline's own Prometheus/,
    );
    const http = await loadError(
      experimentFile(
        SHOP_ATTACH,
        method,
        "[{ name: tp, http: { endpoint: toxiproxy, path: /version }, atLeast: 100% }]",
      ),
    );
    expect(http.issues[0]?.path).toBe("steadyState.checks[0].http");
    const lb = await loadExperiment(
      experimentFile(SHOP_ATTACH, method, "[{ name: lb, http: { path: /healthz }, atLeast: 100% }]"),
    );
    expect(lb.attach?.compose).toBe("shop");
  });

  it("refuses a target outside the mapped services, and plans node-kill, packet-loss, partition and stress", async () => {
    const error = await loadError(
      experimentFile(SHOP_ATTACH, "  - { fault: node-kill, target: edge-9, for: 5s }"),
    );
    expect(error.issues[0]?.path).toBe("method[0].target");
    const loaded = await loadExperiment(
      experimentFile(
        SHOP_ATTACH,
        [
          "  - { fault: node-kill, target: { role: edge, pick: 1 }, mode: pause, for: 5s }",
          "  - { fault: packet-loss, target: edge-2, loss: 10%, at: 6s, for: 5s }",
          "  - { fault: partition, target: origin, from: edge-1, at: 12s, for: 5s }",
          "  - { fault: stress, target: lb, cpu: 1, at: 18s, for: 5s }",
        ].join("\n"),
      ),
    );
    const plan = planFaults(loaded.experiment, attachedTopology(settings()), 1);
    expect(plan.actions.map((a) => a.fault.fault)).toEqual([
      "node-kill",
      "packet-loss",
      "partition",
      "stress",
    ]);
  });
});

describe("discovering an attached stack (a fake engine)", () => {
  it("maps the project's services to their containers, never another project's or Faultline's", async () => {
    ({ restore } = fakeEngine(SHOP));
    const found = await discoverStack(settings());
    expect(found.topology.attach?.containers).toEqual({
      lb: "shop-lb-id",
      "edge-1": "shop-edge-1-id",
      "edge-2": "shop-edge-2-id",
      origin: "shop-origin-id",
    });
    expect(found.topology.network).toBe("shop_default");
    expect(found.entry).toBe("http://127.0.0.1:8480");
    expect(found.statsCsv).toBeUndefined();
    expect(containerName(found.topology, "edge-2")).toBe("shop-edge-2-id");
    expect(() => containerName(found.topology, "cache")).toThrow(InvalidInputError);
    expect(() => containerName(found.topology, "cache")).toThrow(/touches no other container/);
  });

  it("finds opted-in containers by the faultline.attach label, their services by container name", async () => {
    const labelled = (name: string, ports: Docker.Port[] = []) => ({
      ...container(`${name}-id`, { [LABEL_ATTACH]: "lab" }, { ports }),
      Names: [`/${name}`],
    });
    ({ restore } = fakeEngine([
      labelled("front", [{ IP: "0.0.0.0", PrivatePort: 80, PublicPort: 9000, Type: "tcp" }]),
      labelled("cache-a"),
      labelled("cache-b"),
      composed("shop", "edge-1"),
    ]));
    const found = await discoverStack(
      attachSchema.parse({ label: "lab", roles: { lb: ["front"], edge: ["cache-a", "cache-b"] } }),
    );
    expect(found.topology.replica).toBe("lab");
    expect(found.topology.attach).toMatchObject({ by: "label", selector: "lab" });
    expect(found.topology.attach?.containers).toEqual({
      front: "front-id",
      "cache-a": "cache-a-id",
      "cache-b": "cache-b-id",
    });
    expect(found.entry).toBe("http://127.0.0.1:9000");
  });

  it("finds the entry point the load balancer publishes when none is named", async () => {
    ({ restore } = fakeEngine(SHOP));
    const found = await discoverStack(
      settings({ entry: undefined, stats: { path: "/lb-stats", backend: "edges" } }),
    );
    expect(found.entry).toBe("http://127.0.0.1:8480");
    expect(found.statsCsv).toBe("http://127.0.0.1:8480/lb-stats;csv;norefresh");
  });

  it("says what is wrong: no such project, a service it lacks, no published entry point", async () => {
    ({ restore } = fakeEngine(SHOP));
    await expect(discoverStack(settings({ compose: "nope" }))).rejects.toThrow(EnvironmentError);
    await expect(discoverStack(settings({ compose: "nope" }))).rejects.toThrow(
      /Compose project nope has no containers/,
    );
    const missing = settings({ roles: { lb: ["lb"], edge: ["edge-1", "edge-7"] } });
    await expect(discoverStack(missing)).rejects.toThrow(
      /edge-7 \(edge\), which Compose project shop does not have/,
    );
    await expect(discoverStack(settings({ entry: "http://127.0.0.1:9999" }))).rejects.toThrow(
      /publishes no port 9999 on loopback/,
    );
    restore();
    ({ restore } = fakeEngine(SHOP.map((c) => ({ ...c, Ports: [] }))));
    await expect(discoverStack(settings({ entry: undefined }))).rejects.toThrow(
      /has no published entry point/,
    );
  });

  it("`replica down` and `replica up` refuse an attached stack and touch nothing", async () => {
    let calls: string[];
    ({ calls, restore } = fakeEngine(SHOP));
    const down = await replicaDown("shop").catch((e: unknown) => e);
    expect(down).toBeInstanceOf(InvalidInputError);
    expect(String(down)).toMatch(/not a replica it brought up/);
    await expect(replicaUp({ replica: "shop" })).rejects.toThrow(/not a replica it brought up/);
    expect(calls.filter((c) => c !== "ping")).toEqual([]);
  });
});
