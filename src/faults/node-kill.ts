import { z } from "zod";
import { InvalidInputError } from "../errors.js";
import { waitUntil } from "../lifecycle/wait.js";
import { isNotFound, isNotModified } from "../replica/docker.js";
import { engine } from "../replica/engine.js";
import { containerName, TARGET_ROLES, type Topology } from "../replica/topology.js";
import type { FaultKindModule, Leftovers } from "./fault-kind.js";
import { faultTiming } from "./fields.js";

// Node faults act on the service's container through the Docker API. HAProxy's health checks,
// not Faultline, decide when traffic moves away, as they would in a real PoP.

export const killModes = ["kill", "stop", "pause", "restart"] as const;
/** Signals a node-kill may send; names as `kill -l` prints them, with or without SIG. */
export const signals = [
  "SIGKILL",
  "SIGTERM",
  "SIGINT",
  "SIGQUIT",
  "SIGHUP",
  "SIGUSR1",
  "SIGUSR2",
  "SIGSTOP",
] as const;

export const nodeKillFaultSchema = z.strictObject({
  fault: z.literal("node-kill"),
  ...faultTiming,
  mode: z.enum(killModes, { error: `expected mode to be one of ${killModes.join(", ")}` }).default("kill"),
  signal: z
    .string()
    .transform((text, ctx) => {
      const upper = text.toUpperCase();
      const name = (upper.startsWith("SIG") ? upper : `SIG${upper}`) as (typeof signals)[number];
      if (!signals.includes(name)) {
        ctx.addIssue({
          code: "custom",
          message: `expected a signal among ${signals.join(", ")}, got "${text}"`,
        });
        return z.NEVER;
      }
      return name;
    })
    .default("SIGKILL")
    .describe("signal for mode kill"),
});
export type NodeKillFault = z.infer<typeof nodeKillFaultSchema>;

/** Brings a container back to running, whatever state a fault (or a crash) left it in. */
export async function ensureRunning(name: string): Promise<"started" | "unpaused" | "running"> {
  const info = await engine().inspectContainer(name);
  if (info.State.Paused) {
    await engine().unpauseContainer(name);
    return "unpaused";
  }
  if (!info.State.Running) {
    await engine()
      .startContainer(name)
      .catch((error: unknown) => {
        // Already started by someone else in the meantime.
        if (!isNotModified(error)) throw error;
      });
    return "started";
  }
  return "running";
}

const TERMINATING: ReadonlySet<string> = new Set(["SIGTERM", "SIGINT", "SIGQUIT"]);

/** Waits until the container is no longer running, for at most `timeoutMs` (then goes on). */
async function exited(name: string, timeoutMs: number): Promise<void> {
  await waitUntil(
    async () =>
      (await engine().inspectContainer(name)).State.Running
        ? { done: false, reason: `${name} still runs` }
        : { done: true, value: undefined },
    { description: `${name} to exit`, timeoutMs, intervalMs: 50 },
  ).catch(() => {});
}

async function act(fault: NodeKillFault, name: string): Promise<void> {
  switch (fault.mode) {
    case "kill":
      await engine().killContainer(name, fault.signal);
      // Docker returns once SIGKILL has done its work, but as soon as any other signal is
      // sent. A terminating one is in effect when the container has exited; waiting for
      // that keeps "applied" truthful, and a revert that comes earlier from finding the
      // service still running (and then dying for good).
      if (TERMINATING.has(fault.signal)) await exited(name, 10_000);
      return;
    case "stop":
      return engine().stopContainer(name, 10);
    case "pause":
      return engine().pauseContainer(name);
    case "restart":
      return engine().restartContainer(name, 10);
  }
}

function describe(fault: NodeKillFault, service: string): string {
  switch (fault.mode) {
    case "kill":
      return `kill ${service} with ${fault.signal}`;
    case "stop":
      return `stop ${service} (SIGTERM, then SIGKILL after 10s)`;
    case "pause":
      return `pause ${service} (freeze its processes)`;
    case "restart":
      return `restart ${service}`;
  }
}

function check(fault: NodeKillFault, service: string, topology: Topology): void {
  if (!topology.services.some((s) => s.name === service)) {
    throw new InvalidInputError(`no service "${service}" for node-kill`);
  }
  if (fault.mode !== "kill" && fault.signal !== "SIGKILL") {
    throw new InvalidInputError(`signal ${fault.signal} only applies to mode kill, not ${fault.mode}`, {
      suggestion: "drop `signal`, or use mode: kill",
    });
  }
}

const POP: ReadonlySet<string> = new Set(TARGET_ROLES);

/**
 * PoP containers that are stopped, exited or paused: started or unpaused again. Not on an
 * attached stack: its containers are the user's, stopped or paused for reasons of theirs, so
 * only the ledger (what Faultline itself did) brings one back.
 */
export const stoppedContainers: Leftovers = {
  id: "container-state",
  order: 0,
  async find(replica, containers) {
    if (replica.topology.attach) return [];
    return containers
      .filter((c) => POP.has(c.role) && c.state !== "running")
      .map((c) => `${c.service} is ${c.state}`);
  },
  async sweep({ replica, containers, attempt, found }) {
    if (replica.topology.attach) return;
    for (const c of containers.filter((c) => POP.has(c.role) && c.state !== "running")) {
      await attempt(`container ${c.service}`, async () => {
        const state = await ensureRunning(containerName(replica.topology, c.service));
        found({ kind: "container", target: c.service, what: `${c.state} -> ${state}` });
      });
    }
  },
};

export const nodeKill: FaultKindModule<typeof nodeKillFaultSchema> = {
  kind: "node-kill",
  schema: nodeKillFaultSchema,
  summary:
    "`kill` (with a `signal`), `stop` or `pause` the target, brought back after `for`; or `restart` it (stop, then start at once: the `for` only bounds its window)",
  scaffold: {
    target: "{ role: edge, pick: 1 }",
    lines: ["mode: kill                # kill, stop, pause or restart", "signal: SIGKILL"],
  },
  disruptive: () => true,
  check,
  describe,
  describeRevert: (fault, service) =>
    fault.mode === "pause" ? `unpause ${service}` : `start ${service} again if it is not running`,
  async apply(fault, context) {
    const name = containerName(context.replica.topology, context.service);
    try {
      await act(fault, name);
    } catch (error) {
      if (isNotFound(error)) throw new InvalidInputError(`container ${name} does not exist`);
      await ensureRunning(name).catch(() => {});
      throw error;
    }
    return {
      description: describe(fault, context.service),
      revert: async () => void (await ensureRunning(name)),
    };
  },
  async revertEntry(entry, replica) {
    return `${entry.service}: ${await ensureRunning(containerName(replica.topology, entry.service))}`;
  },
  leftovers: [stoppedContainers],
};
