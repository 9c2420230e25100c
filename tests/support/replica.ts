import { afterAll, beforeAll, expect } from "vitest";
import { LABEL_REPLICA } from "../../src/replica/docker.js";
import { rawClient } from "../../src/replica/engine.js";
import { type Replica, replicaDown, replicaUp } from "../../src/replica/replica.js";
import { loadTopology } from "../../src/replica/topology-file.js";

/**
 * Brings a uniquely named replica up for one test file and takes it down afterwards: the
 * built-in PoP with `edges`, or the replica a topology file describes, renamed to `name`.
 */
export function useReplica(name: string, edges: number | { topologyFile: string } = 3): () => Replica {
  let replica: Replica | undefined;
  beforeAll(async () => {
    const up =
      typeof edges === "number"
        ? await replicaUp({ replica: name, edges })
        : await replicaUp({ topology: await loadTopology(edges.topologyFile, name) });
    replica = up.replica;
    console.log(`[${name}] replica up in ${up.tookMs} ms (${up.created ? "created" : "reused"})`);
  });
  afterAll(async () => {
    await replicaDown(name);
    expect(await leftovers(name)).toEqual({ containers: [], networks: [] });
  });
  return () => {
    if (!replica) throw new Error(`replica ${name} is not up`);
    return replica;
  };
}

/** Containers and networks still carrying the replica's label. */
export async function leftovers(name: string): Promise<{ containers: string[]; networks: string[] }> {
  const filters = { label: [`${LABEL_REPLICA}=${name}`] };
  const containers = await rawClient().listContainers({ all: true, filters });
  const networks = await rawClient().listNetworks({ filters });
  return { containers: containers.map((c) => c.Names[0] ?? c.Id), networks: networks.map((n) => n.Name) };
}
