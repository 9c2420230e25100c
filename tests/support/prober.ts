import { LABEL_REPLICA, LABEL_ROLE } from "../../src/replica/docker.js";
import { rawClient } from "../../src/replica/engine.js";
import type { Replica } from "../../src/replica/replica.js";
import { containerName, imageFor } from "../../src/replica/topology.js";

export interface PingResult {
  sent: number;
  received: number;
  loss: number;
}

/**
 * Sends `count` ICMP echoes to `target` from a throwaway container: on the replica network, or
 * inside another service's namespace (`from`). Only the replica's own addresses are pinged.
 */
export async function ping(
  replica: Replica,
  target: string,
  count: number,
  from?: string,
): Promise<PingResult> {
  const client = rawClient();
  const networkMode = from
    ? `container:${(await client.getContainer(containerName(replica.topology, from)).inspect()).Id}`
    : replica.topology.network;
  const container = await client.createContainer({
    Image: imageFor("netfilter"),
    Entrypoint: ["ping"],
    Cmd: ["-q", "-n", "-c", String(count), "-i", "0.01", "-W", "1", target],
    Labels: { [LABEL_REPLICA]: replica.topology.replica, [LABEL_ROLE]: "prober" },
    HostConfig: { NetworkMode: networkMode, CapAdd: ["NET_RAW"] },
  });
  try {
    await container.start();
    await container.wait();
    const logs = (await container.logs({ stdout: true, stderr: true })).toString("utf8");
    const match = /(\d+) packets transmitted, (\d+) received/.exec(logs);
    if (!match) throw new Error(`unexpected ping output: ${logs}`);
    const sent = Number(match[1]);
    const received = Number(match[2]);
    return { sent, received, loss: 1 - received / sent };
  } finally {
    await container.remove({ force: true }).catch(() => {});
  }
}

/** Wilson score interval of an observed proportion. */
export function wilson(successes: number, n: number, z: number): [number, number] {
  const p = successes / n;
  const denominator = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denominator;
  return [centre - half, centre + half];
}
