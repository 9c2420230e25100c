import type Docker from "dockerode";
import { afterEach, describe, expect, it } from "vitest";
import { InvalidInputError } from "../../src/errors.js";
import { planActions } from "../../src/experiments/plan.js";
import { faultSchema } from "../../src/faults/registry.js";
import {
  attachedTopology,
  attachSchema,
  discoverStack,
  LABEL_COMPOSE_PROJECT,
  LABEL_COMPOSE_SERVICE,
} from "../../src/replica/attach.js";
import { attachedLink, attachedLinkClients, attachedLinkPort } from "../../src/replica/attach-links.js";
import { type DockerEngine, type ListQuery, useEngine } from "../../src/replica/engine.js";
import { defaultTopology, type Topology } from "../../src/replica/topology.js";

// Which link a link fault on an attached stack acts on (src/replica/attach-links.ts): the
// traffic into the target from its clients by role, on the one port its container exposes
// unless the settings name it.

const settings = (extra: Record<string, unknown> = {}) =>
  attachSchema.parse({
    compose: "shop",
    roles: { lb: ["front"], edge: ["edge-a", "edge-b", "edge-c"], origin: ["app"] },
    ...extra,
  });

/** The stack as discovery would leave it, with each container's exposed TCP ports. */
function discovered(exposed: Record<string, number[]>, extra: Record<string, unknown> = {}): Topology {
  const containers = Object.fromEntries(Object.keys(exposed).map((s) => [s, `${s}-id`]));
  return attachedTopology(settings(extra), { containers, network: "shop_default", exposed });
}

const STACK = { front: [80, 8405], "edge-a": [80], "edge-b": [80], "edge-c": [80], app: [8080] };

const thrown = (work: () => unknown): InvalidInputError => {
  try {
    work();
  } catch (error) {
    if (error instanceof InvalidInputError) return error;
    throw error;
  }
  throw new Error("expected an InvalidInputError");
};

describe("link faults on an attached stack", () => {
  it("act on the load balancer's traffic into an edge, and every edge's into the origin", () => {
    const topology = discovered(STACK);
    expect(attachedLink(topology, "edge-b", "latency")).toEqual({ clients: ["front"], port: 80 });
    expect(attachedLink(topology, "app", "latency")).toEqual({
      clients: ["edge-a", "edge-b", "edge-c"],
      port: 8080,
    });
  });

  it("refuse the load balancer (its clients are outside the stack) and services it does not map", () => {
    const lb = thrown(() => attachedLinkClients(discovered(STACK), "front", "bandwidth"));
    expect(lb.message).toMatch(
      /bandwidth fault acts on the traffic into front .* whose clients are outside it/,
    );
    expect(lb.suggestion).toMatch(/edge-a, edge-b, edge-c, app/);
    expect(thrown(() => attachedLinkClients(discovered(STACK), "cache", "reset")).message).toMatch(
      /"cache" is none/,
    );
  });

  it("take the target's one exposed TCP port, or the one the settings name", () => {
    const two = { ...STACK, app: [8080, 9090] };
    const error = thrown(() => attachedLinkPort(discovered(two), "app"));
    expect(error.message).toMatch(/app's container exposes 2 TCP ports \(8080, 9090\)/);
    expect(error.suggestion).toMatch(/replica\.attach\.ports: \{ app: PORT \}/);
    expect(attachedLinkPort(discovered(two, { ports: { app: 9090 } }), "app")).toBe(9090);
    const none = thrown(() => attachedLinkPort(discovered({ ...STACK, app: [] }), "app"));
    expect(none.message).toMatch(/exposes no TCP port/);
    expect(attachedLinkPort(discovered({ ...STACK, app: [] }, { ports: { app: 81 } }), "app")).toBe(81);
  });

  it("before discovery (plan, validate) leave the port open, unless the settings name it", () => {
    expect(attachedLinkPort(attachedTopology(settings()), "app")).toBeUndefined();
    expect(attachedLinkPort(attachedTopology(settings({ ports: { app: 8080 } })), "app")).toBe(8080);
    expect(attachedLinkClients(attachedTopology(settings()), "edge-a", "latency")).toEqual(["front"]);
  });
});

describe("discovery", () => {
  let restore: (() => void) | undefined;
  afterEach(() => restore?.());

  it("records each mapped container's exposed TCP ports, published or not, once each", async () => {
    // Exposed and not published: the engine sends no IP and no PublicPort (0 and "" here).
    const port = (PrivatePort: number, extra: Partial<Docker.Port> = {}): Docker.Port => ({
      IP: "",
      PublicPort: 0,
      PrivatePort,
      Type: "tcp",
      ...extra,
    });
    const containers = Object.entries({
      front: [
        port(80, { IP: "127.0.0.1", PublicPort: 8480 }),
        port(80, { IP: "::1", PublicPort: 8480 }),
        port(8405),
      ],
      "edge-a": [port(80)],
      "edge-b": [port(80), port(53, { Type: "udp" })],
      "edge-c": [port(80)],
      app: [port(8080)],
    }).map(
      ([service, ports]): Docker.ContainerInfo => ({
        Id: `${service}-id`,
        Names: [`/shop_${service}_1`],
        Image: "img",
        ImageID: "img",
        Command: "",
        Created: 0,
        Ports: ports,
        Labels: { [LABEL_COMPOSE_PROJECT]: "shop", [LABEL_COMPOSE_SERVICE]: service },
        State: "running",
        Status: "",
        HostConfig: { NetworkMode: "shop_default" },
        NetworkSettings: { Networks: {} },
        Mounts: [],
      }),
    );
    const fake = new Proxy({} as DockerEngine, {
      get: (_, name) => {
        if (name === "address") return "fake://engine";
        if (name === "listContainers") return async (_query: ListQuery) => containers;
        return async () => undefined;
      },
    });
    restore = useEngine(fake);
    const { topology } = await discoverStack(settings());
    expect(topology.attach?.exposed).toEqual({
      front: [80, 8405],
      "edge-a": [80],
      "edge-b": [80],
      "edge-c": [80],
      app: [8080],
    });
  });
});

describe("overlapping link faults on one attached target", () => {
  const latency = (target: string, at: string, length: string) =>
    faultSchema.parse({ fault: "latency", target, latency: "100ms", at, for: length });
  const bandwidth = (target: string, at: string, length: string) =>
    faultSchema.parse({ fault: "bandwidth", target, rate: "100KB/s", at, for: length });

  it("are refused: each needs a redirect of the target's clients of its own", () => {
    const error = thrown(() =>
      planActions(
        [latency("edge-a", "0s", "60s"), bandwidth("edge-a", "20s", "20s")],
        discovered(STACK),
        1,
        0,
      ),
    );
    expect(error.message).toMatch(/method\[1\]: bandwidth on edge-a overlaps f1 \(latency\).*one at a time/);
  });

  it("are planned when they follow each other, are on other targets, or on Faultline's own replica", () => {
    expect(
      planActions(
        [latency("edge-a", "0s", "20s"), bandwidth("edge-a", "20s", "20s")],
        discovered(STACK),
        1,
        0,
      ).actions,
    ).toHaveLength(2);
    expect(
      planActions([latency("edge-a", "0s", "60s"), bandwidth("edge-b", "0s", "60s")], discovered(STACK), 1, 0)
        .actions,
    ).toHaveLength(2);
    expect(
      planActions([latency("edge-1", "0s", "60s"), bandwidth("edge-1", "0s", "60s")], defaultTopology(), 1, 0)
        .actions,
    ).toHaveLength(2);
  });
});

describe("link faults across networks", () => {
  it("are refused where a client reaches the target over another network than the stack's", () => {
    const containers = Object.fromEntries(Object.keys(STACK).map((s) => [s, `${s}-id`]));
    const networks = {
      front: ["shop_default"],
      "edge-a": ["shop_default", "shop_back"],
      "edge-b": ["shop_default", "shop_back"],
      "edge-c": ["shop_default", "shop_back"],
      app: ["shop_back"],
    };
    const topology = attachedTopology(settings(), {
      containers,
      network: "shop_default",
      exposed: STACK,
      networks,
    });
    expect(attachedLink(topology, "edge-a", "latency").clients).toEqual(["front"]);
    const error = thrown(() => attachedLink(topology, "app", "latency"));
    expect(error.message).toMatch(/on network shop_default alone; edge-a and app share shop_back/);
    expect(error.suggestion).toMatch(/packet-loss or partition on app/);
  });
});
