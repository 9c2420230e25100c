import { errorMessage } from "../errors.js";
import {
  LABEL_FAULT,
  LABEL_RUN,
  netfilterScope,
  SIDECAR_ROLE,
  stopSidecar,
  sweepNamespace,
} from "../injectors/netfilter.js";
import { ensureRunning } from "../injectors/node-kill.js";
import { isBrownedOut, restoreOrigin } from "../injectors/origin-brownout.js";
import { STRESS_PREFIX, stopStress, stressTag } from "../injectors/stress.js";
import { ToxiproxyApi } from "../injectors/toxiproxy.js";
import { clearEntry, type LedgerEntry, readLedger } from "../lifecycle/ledger.js";
import { LABEL_REPLICA, LABEL_ROLE, LABEL_SERVICE } from "../replica/docker.js";
import { engine } from "../replica/engine.js";
import { execIn } from "../replica/exec.js";
import type { Replica } from "../replica/replica.js";
import { containerName, linkTo, POP_ROLES as POP_SERVICE_ROLES } from "../replica/topology.js";

export interface Recovered {
  kind: "ledger" | "toxic" | "sidecar" | "chain" | "container" | "process" | "config";
  target: string;
  what: string;
}

const TOXIC_KINDS = new Set(["latency", "bandwidth", "timeout", "reset"]);
const NETFILTER_KINDS = new Set(["packet-loss", "partition"]);
const POP_ROLES: ReadonlySet<string> = new Set(POP_SERVICE_ROLES);

/** Undoes one ledger entry, from the entry alone (no state of the run that wrote it). */
export async function revertEntry(entry: LedgerEntry, replica: Replica): Promise<string> {
  if (TOXIC_KINDS.has(entry.kind)) {
    const link = linkTo(replica.topology, entry.service)?.name ?? entry.service;
    const api = new ToxiproxyApi(replica.endpoints.toxiproxy);
    const removed = await api.removeFaultToxics(link, entry.runId, entry.faultId);
    return `removed ${removed} toxic(s) from ${link}`;
  }
  if (entry.kind === "stress") {
    const stopped = await stopStress(
      containerName(replica.topology, entry.service),
      `${stressTag(entry.runId, entry.faultId)}-*`,
    );
    return `stopped ${stopped} stress process(es)`;
  }
  if (entry.kind === "origin-brownout") {
    const restored = await restoreOrigin(containerName(replica.topology, entry.service));
    const link = linkTo(replica.topology, entry.service)?.name ?? entry.service;
    await new ToxiproxyApi(replica.endpoints.toxiproxy).removeFaultToxics(link, entry.runId, entry.faultId);
    return restored ? "restored the healthy origin config" : "origin config was already healthy";
  }
  if (entry.kind === "node-kill") {
    const state = await ensureRunning(containerName(replica.topology, entry.service));
    return `${entry.service}: ${state}`;
  }
  if (NETFILTER_KINDS.has(entry.kind)) {
    const sidecars = await engine().listContainers({
      all: true,
      filters: {
        label: [
          `${LABEL_REPLICA}=${replica.topology.replica}`,
          `${LABEL_RUN}=${entry.runId}`,
          `${LABEL_FAULT}=${entry.faultId}`,
        ],
      },
    });
    for (const s of sidecars) await stopSidecar(s.Id);
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
  return `nothing known to revert for kind ${entry.kind}`;
}

/** Reverts a run's ledger entries (all runs' when runId is undefined) and clears them. */
export async function revertLedger(replica: Replica, runId?: string): Promise<Recovered[]> {
  const recovered: Recovered[] = [];
  const { entries } = readLedger(replica.topology.replica, runId);
  for (const entry of entries) {
    const what = await revertEntry(entry, replica);
    clearEntry(entry.replica, entry.runId, entry.faultId);
    recovered.push({
      kind: "ledger",
      target: entry.service,
      what: `${entry.runId} ${entry.faultId} (${entry.description}): ${what}`,
    });
  }
  return recovered;
}

/** What a crashed run left on the replica, one line each; empty when the replica is clean. */
export async function findLeftovers(replica: Replica): Promise<string[]> {
  const found: string[] = [];
  for (const e of readLedger(replica.topology.replica).entries) {
    found.push(`ledger: ${e.faultId} of run ${e.runId} (${e.description})`);
  }
  const api = new ToxiproxyApi(replica.endpoints.toxiproxy);
  for (const { proxy, toxic } of await api.faultlineToxics()) found.push(`toxic ${toxic.name} on ${proxy}`);
  const containers = await engine().listContainers({
    all: true,
    filters: { label: [`${LABEL_REPLICA}=${replica.topology.replica}`] },
  });
  for (const c of containers) {
    const role = c.Labels[LABEL_ROLE] ?? "";
    if (role === SIDECAR_ROLE) found.push(`netfilter sidecar ${c.Names[0]?.replace(/^\//, "") ?? c.Id}`);
    else if (POP_ROLES.has(role) && c.State !== "running")
      found.push(`${c.Labels[LABEL_SERVICE] ?? c.Id} is ${c.State}`);
    else if (POP_ROLES.has(role)) {
      const name = c.Names[0]?.replace(/^\//, "") ?? c.Id;
      const stress = await execIn(name, ["sh", "-c", `ls /tmp/${STRESS_PREFIX}*.pid 2>/dev/null | wc -l`]);
      if (Number(stress.output) > 0)
        found.push(`${stress.output} stress process(es) in ${c.Labels[LABEL_SERVICE]}`);
      if (role === "origin" && (await isBrownedOut(name)))
        found.push(`${c.Labels[LABEL_SERVICE]} is browned out`);
    }
  }
  return found;
}

/**
 * Reverts every fault that any Faultline run left on the replica: first what the ledger
 * records, then a sweep by name and label that needs no ledger at all (toxics named
 * `faultline.*`, netfilter sidecars, FL chains, PoP containers stopped or paused).
 */
export async function recoverReplica(
  replica: Replica,
): Promise<{ recovered: Recovered[]; errors: string[] }> {
  const recovered: Recovered[] = [];
  const errors: string[] = [];
  const attempt = async (what: string, action: () => Promise<void>) => {
    try {
      await action();
    } catch (error) {
      errors.push(`${what}: ${errorMessage(error)}`);
    }
  };

  await attempt("ledger", async () => {
    recovered.push(...(await revertLedger(replica)));
  });
  await attempt("toxics", async () => {
    const api = new ToxiproxyApi(replica.endpoints.toxiproxy);
    for (const { proxy, toxic } of await api.faultlineToxics()) {
      await api.removeToxic(proxy, toxic.name);
      recovered.push({ kind: "toxic", target: proxy, what: toxic.name });
    }
  });
  const containers = await engine().listContainers({
    all: true,
    filters: { label: [`${LABEL_REPLICA}=${replica.topology.replica}`] },
  });
  for (const c of containers.filter((c) => c.Labels[LABEL_ROLE] === SIDECAR_ROLE)) {
    await attempt(`sidecar ${c.Names[0] ?? c.Id}`, async () => {
      await stopSidecar(c.Id);
      recovered.push({
        kind: "sidecar",
        target: c.Labels[LABEL_SERVICE] ?? "?",
        what: c.Names[0]?.replace(/^\//, "") ?? c.Id,
      });
    });
  }
  for (const c of containers.filter((c) => POP_ROLES.has(c.Labels[LABEL_ROLE] ?? ""))) {
    const service = c.Labels[LABEL_SERVICE] ?? "?";
    await attempt(`container ${service}`, async () => {
      if (c.State !== "running") {
        const state = await ensureRunning(containerName(replica.topology, service));
        recovered.push({ kind: "container", target: service, what: `${c.State} -> ${state}` });
      }
      for (const chain of await sweepNamespace(replica, service)) {
        recovered.push({ kind: "chain", target: service, what: chain });
      }
      const name = containerName(replica.topology, service);
      const stopped = await stopStress(name, `${STRESS_PREFIX}*`);
      if (stopped > 0)
        recovered.push({ kind: "process", target: service, what: `${stopped} stress process(es)` });
      if (c.Labels[LABEL_ROLE] === "origin" && (await restoreOrigin(name))) {
        recovered.push({ kind: "config", target: service, what: "healthy origin config restored" });
      }
    });
  }
  // Packet faults on links live in Toxiproxy's namespace.
  const toxiproxy = containers.find((c) => c.Labels[LABEL_ROLE] === "toxiproxy");
  if (toxiproxy?.State === "running") {
    await attempt("toxiproxy's network namespace", async () => {
      for (const chain of await sweepNamespace(replica, "toxiproxy"))
        recovered.push({ kind: "chain", target: "toxiproxy", what: chain });
    });
  }
  return { recovered, errors };
}
