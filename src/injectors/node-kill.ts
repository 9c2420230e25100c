import { InvalidInputError } from "../errors.js";
import type { NodeKillFault } from "../experiments/schema.js";
import { waitUntil } from "../lifecycle/wait.js";
import { docker, isNotFound, isNotModified } from "../replica/docker.js";
import { containerName, type Topology } from "../replica/topology.js";
import type { AppliedFault, Injector, InjectorContext } from "./injector.js";

// Node faults act on the service's container through the Docker API. HAProxy's health checks,
// not Faultline, decide when traffic moves away, as they would in a real PoP.

/** Brings a container back to running, whatever state a fault (or a crash) left it in. */
export async function ensureRunning(name: string): Promise<"started" | "unpaused" | "running"> {
  const container = docker().getContainer(name);
  const info = await container.inspect();
  if (info.State.Paused) {
    await container.unpause();
    return "unpaused";
  }
  if (!info.State.Running) {
    await container.start().catch((error: unknown) => {
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
      (await docker().getContainer(name).inspect()).State.Running
        ? { done: false, reason: `${name} still runs` }
        : { done: true, value: undefined },
    { description: `${name} to exit`, timeoutMs, intervalMs: 50 },
  ).catch(() => {});
}

export const nodeKillInjector: Injector<NodeKillFault> = {
  kind: "node-kill",
  disruptive: () => true,

  check(fault, service, topology: Topology) {
    if (!topology.services.some((s) => s.name === service)) {
      throw new InvalidInputError(`no service "${service}" for node-kill`);
    }
    if (fault.mode !== "kill" && fault.signal !== "SIGKILL") {
      throw new InvalidInputError(`signal ${fault.signal} only applies to mode kill, not ${fault.mode}`, {
        suggestion: "drop `signal`, or use mode: kill",
      });
    }
  },

  describe(fault, service) {
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
  },

  describeRevert(fault, service) {
    return fault.mode === "pause" ? `unpause ${service}` : `start ${service} again if it is not running`;
  },

  async apply(fault, context: InjectorContext): Promise<AppliedFault> {
    const name = containerName(context.replica.topology, context.service);
    const container = docker().getContainer(name);
    try {
      switch (fault.mode) {
        case "kill":
          await container.kill({ signal: fault.signal });
          // Docker returns once SIGKILL has done its work, but as soon as any other signal is
          // sent. A terminating one is in effect when the container has exited; waiting for
          // that keeps "applied" truthful, and a revert that comes earlier from finding the
          // service still running (and then dying for good).
          if (TERMINATING.has(fault.signal)) await exited(name, 10_000);
          break;
        case "stop":
          await container.stop({ t: 10 });
          break;
        case "pause":
          await container.pause();
          break;
        case "restart":
          await container.restart({ t: 10 });
          break;
      }
    } catch (error) {
      if (isNotFound(error)) throw new InvalidInputError(`container ${name} does not exist`);
      await ensureRunning(name).catch(() => {});
      throw error;
    }
    return {
      description: this.describe(fault, context.service, context.replica.topology),
      revert: async () => {
        await ensureRunning(name);
      },
    };
  },
};
