import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { expect } from "vitest";
import { freeLoopbackPort } from "../../src/lifecycle/ports.js";
import { waitUntil } from "../../src/lifecycle/wait.js";
import { LABEL_COMPOSE_PROJECT, LABEL_COMPOSE_SERVICE } from "../../src/replica/attach.js";
import { LABEL_REPLICA, LABEL_ROLE } from "../../src/replica/docker.js";
import { rawClient } from "../../src/replica/engine.js";
import { execIn } from "../../src/replica/exec.js";
import { parseHaproxyCsv } from "../../src/replica/replica.js";
import { imageFor } from "../../src/replica/topology.js";

// The example Compose PoP (examples/compose-pop) on a project and loopback port of a test's
// own, and what a test checks on it: the same containers, running and unpaused, no FL chain
// in any of their namespaces (filter or nat table), no container of Faultline's left.

const COMPOSE_FILE = join(import.meta.dirname, "../../examples/compose-pop/docker-compose.yml");
/** The stack's own Prometheus, added when a test asks for it. */
const PROMETHEUS_FILE = join(import.meta.dirname, "../../examples/compose-pop/docker-compose.prometheus.yml");
export const COMPOSE_SERVICES = ["lb", "edge-1", "edge-2", "edge-3", "origin"];
export const COMPOSE_EDGES = ["edge-1", "edge-2", "edge-3"];

/** A free port on 127.0.0.1 (src/lifecycle/ports.ts). */
export const freePort = freeLoopbackPort;

export class ComposePop {
  port = 0;
  prometheusPort = 0;

  constructor(
    readonly project: string,
    private readonly options: { prometheus?: boolean } = {},
  ) {}

  /** The stack's own Prometheus on loopback, when it has one. */
  get prometheus(): string {
    return `http://127.0.0.1:${this.prometheusPort}`;
  }

  get entry(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** An experiment's `replica:` block attaching to this stack, its roles and stats page. */
  get replicaYaml(): string {
    return `replica:
  attach:
    compose: ${this.project}
    entry: ${this.entry}
    stats: { path: /lb-stats, backend: edges }
    roles: { lb: [lb], edge: [edge-1, edge-2, edge-3], origin: [origin] }`;
  }

  compose(...args: string[]): string {
    const files = ["-f", COMPOSE_FILE, ...(this.options.prometheus ? ["-f", PROMETHEUS_FILE] : [])];
    return execFileSync("docker-compose", ["-p", this.project, ...files, ...args], {
      env: {
        ...process.env,
        COMPOSE_POP_PORT: String(this.port),
        COMPOSE_POP_PROMETHEUS_PORT: String(this.prometheusPort),
      },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      // A docker-compose that hangs (seen once, right after another test restarted the
      // engine) fails here with its command, rather than as a hook timeout with no cause.
      timeout: 90_000,
    });
  }

  /**
   * Starts the project on a free port and waits for its edges; takes it down again on failure,
   * and tries once more (a port taken meanwhile, an engine just restarted) before giving up.
   */
  async up(attempts = 2): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      this.port = await freePort();
      if (this.options.prometheus) this.prometheusPort = await freePort();
      try {
        this.compose("up", "-d");
        await this.edgesUp();
        return;
      } catch (error) {
        this.down();
        if (attempt >= attempts) throw error;
        console.log(
          `[compose-pop] ${this.project} did not come up (${String(error).slice(0, 300)}); trying again`,
        );
      }
    }
  }

  /** Takes the project down and removes any container of Faultline's labelled with its name. */
  down(): void {
    this.compose("down", "-v", "--remove-orphans");
  }

  async removeFaultlineContainers(): Promise<void> {
    for (const c of await this.faultlineContainers())
      await rawClient()
        .getContainer(c.id)
        .remove({ force: true })
        .catch(() => {});
  }

  /** service -> container id, state (and paused), for the project's containers. */
  async snapshot(): Promise<Record<string, string>> {
    const listed = await rawClient().listContainers({
      all: true,
      filters: { label: [`${LABEL_COMPOSE_PROJECT}=${this.project}`] },
    });
    const out: Record<string, string> = {};
    for (const c of listed) {
      const info = await rawClient().getContainer(c.Id).inspect();
      out[c.Labels[LABEL_COMPOSE_SERVICE] ?? c.Id] =
        `${c.Id.slice(0, 12)} ${info.State.Status}${info.State.Paused ? " paused" : ""}`;
    }
    return out;
  }

  async idOf(service: string): Promise<string> {
    const listed = await rawClient().listContainers({
      all: true,
      filters: {
        label: [`${LABEL_COMPOSE_PROJECT}=${this.project}`, `${LABEL_COMPOSE_SERVICE}=${service}`],
      },
    });
    return listed[0]?.Id ?? "";
  }

  /** Containers of Faultline's for this stack (sidecars, its Toxiproxy): name and role. */
  async faultlineContainers(): Promise<{ id: string; name: string; role: string }[]> {
    const listed = await rawClient().listContainers({
      all: true,
      filters: { label: [`${LABEL_REPLICA}=${this.project}`] },
    });
    return listed.map((c) => ({
      id: c.Id,
      name: c.Names[0]?.replace(/^\//, "") ?? c.Id,
      role: c.Labels[LABEL_ROLE] ?? "",
    }));
  }

  async edgesUp(timeoutMs = 60_000): Promise<void> {
    await waitUntil(
      async () => {
        const states = await this.lbView();
        const up = [...states.values()].filter((s) => s === "up").length;
        return up === 3 ? { done: true, value: undefined } : { done: false, reason: `${up}/3 edges up` };
      },
      { description: "the example PoP's edges to be up", timeoutMs, intervalMs: 200 },
    );
  }

  /** What the stack's HAProxy says of each edge. */
  async lbView() {
    const csv = await fetch(`${this.entry}/lb-stats;csv;norefresh`).then((r) => r.text());
    return parseHaproxyCsv(csv, COMPOSE_EDGES);
  }

  /** FL chains (filter and nat tables) in each service's namespace, as `service: rule` lines. */
  async faultlineRules(): Promise<string[]> {
    const lines: string[] = [];
    for (const service of COMPOSE_SERVICES) {
      const rules = await rulesIn(await this.idOf(service));
      lines.push(
        ...rules
          .split("\n")
          .filter((l) => / FL[0-9a-f]/.test(l) || /^-N FL/.test(l))
          .map((l) => `${service}: ${l}`),
      );
    }
    return lines;
  }

  /** Stress processes Faultline started in the stack's containers (their pid files). */
  async stressProcesses(): Promise<number> {
    let count = 0;
    for (const service of COMPOSE_SERVICES) {
      const pids = await execIn(await this.idOf(service), [
        "sh",
        "-c",
        "ls /tmp/faultline-stress-*.pid 2>/dev/null | wc -l",
      ]);
      count += Number(pids.output) || 0;
    }
    return count;
  }

  /** The stack as Faultline must leave it: same containers, running, no rules, no stress, none of Faultline's containers. */
  async expectUntouched(before: Record<string, string>, when: string, tag = "[compose-pop]"): Promise<void> {
    const after = await this.snapshot();
    const rules = await this.faultlineRules();
    const stress = await this.stressProcesses();
    const left = await this.faultlineContainers();
    console.log(
      `${tag} ${when}: ${Object.entries(after)
        .map(([s, v]) => `${s} ${v}`)
        .join(
          ", ",
        )}; FL rules ${rules.length}; stress processes ${stress}; Faultline containers ${left.length}`,
    );
    expect(after).toEqual(before);
    expect(rules).toEqual([]);
    expect(stress).toBe(0);
    expect(left.map((c) => c.name)).toEqual([]);
  }
}

/** `iptables -S` and `iptables -t nat -S` in a container's network namespace, from a throwaway container. */
export async function rulesIn(id: string): Promise<string> {
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

/** A container of another project on the stack's network, labelled like one of its edges. */
export async function startDecoy(pop: ComposePop): Promise<{ id: string; state: string }> {
  const created = await rawClient().createContainer({
    name: `${pop.project}-other_edge-1_1`,
    Image: imageFor("edge"),
    Entrypoint: ["sleep", "600"],
    Labels: { [LABEL_COMPOSE_PROJECT]: `${pop.project}-other`, [LABEL_COMPOSE_SERVICE]: "edge-1" },
    HostConfig: { NetworkMode: `${pop.project}_default` },
  });
  await created.start();
  return { id: created.id, state: JSON.stringify((await created.inspect()).State) };
}
