import { netfilterScope, sidecarsOf, stopSidecar, sweepNamespace } from "../injectors/netfilter.js";
import type { LedgerEntry } from "../lifecycle/ledger.js";
import { SIDECAR_ROLE } from "../replica/docker.js";
import type { Replica } from "../replica/replica.js";
import { TARGET_ROLES } from "../replica/topology.js";
import type { Leftovers } from "./fault-kind.js";

// What the packet-level kinds (packet-loss, partition) share: the revert of a ledger entry by
// its sidecar's labels, and the sweep of every sidecar and every FL chain a crash left.

const POP: ReadonlySet<string> = new Set(TARGET_ROLES);

/** Stops the entry's sidecars (which delete their chains); sweeps the target's own namespace. */
export async function revertSidecarEntry(entry: LedgerEntry, replica: Replica): Promise<string> {
  const sidecars = await sidecarsOf(replica, entry.runId, entry.faultId);
  for (const id of sidecars) await stopSidecar(id);
  let scope: { service: string; port?: number } = { service: entry.service };
  try {
    scope = netfilterScope(replica.topology, entry.service);
  } catch {
    // A service of an older topology: sweep by its own name.
  }
  // Toxiproxy's namespace carries every link's rules: sweeping it would end other faults
  // still in force. The sidecars stopped above removed this fault's own rules; `recover`
  // sweeps that namespace whole once nothing should be left.
  if (scope.port !== undefined) return `stopped ${sidecars.length} sidecar(s) of link ${entry.service}`;
  const chains = await sweepNamespace(replica, scope.service);
  return `stopped ${sidecars.length} sidecar(s)${chains.length ? `, swept ${chains.join(", ")}` : ""}`;
}

/** Netfilter sidecars still there, and FL chains in any PoP container's or Toxiproxy's namespace. */
export const netfilterLeftovers: Leftovers = {
  id: "netfilter",
  order: 1,
  async find(_replica, containers) {
    return containers.filter((c) => c.role === SIDECAR_ROLE).map((c) => `netfilter sidecar ${c.name}`);
  },
  async sweep({ replica, containers, attempt, found }) {
    for (const c of containers.filter((c) => c.role === SIDECAR_ROLE)) {
      await attempt(`sidecar ${c.name}`, async () => {
        await stopSidecar(c.id);
        found({ kind: "sidecar", target: c.service, what: c.name });
      });
    }
    // Packet faults on links live in Toxiproxy's namespace.
    const namespaces = containers.filter((c) => POP.has(c.role) || c.role === "toxiproxy");
    for (const c of namespaces) {
      await attempt(`${c.service}'s network namespace`, async () => {
        for (const chain of await sweepNamespace(replica, c.service))
          found({ kind: "chain", target: c.service, what: chain });
      });
    }
  },
};
