import { execFileSync } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import { waitUntil } from "../../src/lifecycle/wait.js";
import { LABEL_COMPOSE_PROJECT, LABEL_COMPOSE_SERVICE } from "../../src/replica/attach.js";
import { LABEL_REPLICA, LABEL_ROLE } from "../../src/replica/docker.js";
import { rawClient } from "../../src/replica/engine.js";
import { execIn } from "../../src/replica/exec.js";
import { parseHaproxyCsv } from "../../src/replica/replica.js";
import { imageFor } from "../../src/replica/topology.js";

// The example Compose PoP (examples/compose-pop), started with Debian's docker-compose as a
// user would, for the tests that attach to it: its project on a free loopback port, a way to
// see it exactly (container ids, states, Faultline's rules in every namespace, stress
// processes, Faultline's containers), and its removal after the file's tests.

const ROOT = join(import.meta.dirname, "../..");
export const COMPOSE_FILE = join(ROOT, "examples/compose-pop/docker-compose.yml");
export const COMPOSE_SERVICES = ["lb", "edge-1", "edge-2", "edge-3", "origin"];

export interface ComposePop {
  project: string;
  entry: () => string;
  port: () => number;
  /** service -> "id state[ paused]" for the project's containers. */
  snapshot: () => Promise<Record<string, string>>;
  idOf: (service: string) => Promise<string>;
  /** Faultline's containers (sidecars, its Toxiproxy) labelled with the project's name. */
  faultlineContainers: () => Promise<string[]>;
  edgesUp: () => Promise<void>;
  /** Asserts the stack is as `before` said: same containers, running, no rules, nothing of Faultline's. */
  expectUntouched: (before: Record<string, string>, when: string) => Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject()));
    });
  });
}

/** `iptables -S` and `iptables -t nat -S` in a container's network namespace, from a throwaway container. */
async function rulesIn(id: string): Promise<string> {
  const probe = await rawClient().createContainer({
    Image: imageFor("netfilter"),
    Entrypoint: ["sh", "-c", "iptables -w -S; iptables -w -t nat -S"],
    Labels: { [LABEL_ROLE]: "prober" },
    HostConfig: { NetworkMode: `container:${id}`, CapAdd: ["NET_ADMIN"] },
  });
  try {
    await probe.start();
    await probe.wait();
    return (await probe.logs({ stdout: true, stderr: true })).toString("utf8");
  } finally {
    await probe.remove({ force: true }).catch(() => {});
  }
}

/** Starts the example stack before the file's tests and takes it down after them. */
export function useComposePop(project: string): ComposePop {
  let port = 0;
  const entry = () => `http://127.0.0.1:${port}`;
  const compose = (...args: string[]) =>
    execFileSync("docker-compose", ["-p", project, "-f", COMPOSE_FILE, ...args], {
      env: { ...process.env, COMPOSE_POP_PORT: String(port) },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  const listed = (labels: string[]) => rawClient().listContainers({ all: true, filters: { label: labels } });
  const idOf = async (service: string) =>
    (await listed([`${LABEL_COMPOSE_PROJECT}=${project}`, `${LABEL_COMPOSE_SERVICE}=${service}`]))[0]?.Id ??
    "";
  const faultlineContainers = async () =>
    (await listed([`${LABEL_REPLICA}=${project}`])).map((c) => c.Names[0] ?? c.Id);

  async function snapshot(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const c of await listed([`${LABEL_COMPOSE_PROJECT}=${project}`])) {
      const info = await rawClient().getContainer(c.Id).inspect();
      out[c.Labels[LABEL_COMPOSE_SERVICE] ?? c.Id] =
        `${c.Id.slice(0, 12)} ${info.State.Status}${info.State.Paused ? " paused" : ""}`;
    }
    return out;
  }

  async function edgesUp(): Promise<void> {
    await waitUntil(
      async () => {
        const csv = await fetch(`${entry()}/lb-stats;csv;norefresh`).then((r) => r.text());
        const states = parseHaproxyCsv(csv, ["edge-1", "edge-2", "edge-3"]);
        const up = [...states.values()].filter((s) => s === "up").length;
        return up === 3 ? { done: true, value: undefined } : { done: false, reason: `${up}/3 edges up` };
      },
      { description: "the example PoP's edges to be up", timeoutMs: 60_000, intervalMs: 200 },
    );
  }

  async function expectUntouched(before: Record<string, string>, when: string): Promise<void> {
    const after = await snapshot();
    const chains: string[] = [];
    let stress = 0;
    for (const service of COMPOSE_SERVICES) {
      const id = await idOf(service);
      chains.push(
        ...(await rulesIn(id)).split("\n").filter((l) => / FL[0-9a-f]/.test(l) || /^-N FL/.test(l)),
      );
      const pids = await execIn(id, ["sh", "-c", "ls /tmp/faultline-stress-*.pid 2>/dev/null | wc -l"]);
      stress += Number(pids.output) || 0;
    }
    const left = await faultlineContainers();
    console.log(
      `[compose-pop] ${when}: ${Object.entries(after)
        .map(([s, v]) => `${s} ${v}`)
        .join(
          ", ",
        )}; FL rules ${chains.length}; stress processes ${stress}; Faultline containers ${left.length}`,
    );
    expect(after).toEqual(before);
    expect(chains).toEqual([]);
    expect(stress).toBe(0);
    expect(left).toEqual([]);
  }

  beforeAll(async () => {
    port = await freePort();
    const started = Date.now();
    try {
      compose("up", "-d");
      await edgesUp();
    } catch (error) {
      compose("down", "-v", "--remove-orphans");
      throw error;
    }
    console.log(`[compose-pop] project ${project} up on port ${port} in ${Date.now() - started} ms`);
  });

  afterAll(async () => {
    compose("down", "-v", "--remove-orphans");
    for (const name of await faultlineContainers())
      await rawClient()
        .getContainer(name.replace(/^\//, ""))
        .remove({ force: true })
        .catch(() => {});
    expect(await listed([`${LABEL_COMPOSE_PROJECT}=${project}`])).toEqual([]);
  });

  return { project, entry, port: () => port, snapshot, idOf, faultlineContainers, edgesUp, expectUntouched };
}
