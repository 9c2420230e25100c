import { InvalidInputError } from "../errors.js";
import type { NodeKillFault } from "../experiments/schema.js";
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
      description: this.describe(fault, context.service),
      revert: async () => {
        await ensureRunning(name);
      },
    };
  },
};
