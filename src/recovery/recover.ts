import { errorMessage } from "../errors.js";
import type { Recovered, ReplicaContainer, SweepContext } from "../faults/fault-kind.js";
import { allLeftovers, kindNamed } from "../faults/registry.js";
import { clearEntry, type LedgerEntry, readLedger } from "../lifecycle/ledger.js";
import { removeAttachSeries } from "../replica/attach-series.js";
import { seriesHost } from "../replica/configs.js";
import { ATTACH_SERIES_ROLE, LABEL_ROLE, LABEL_SERVICE, labelFilter } from "../replica/docker.js";
import { engine } from "../replica/engine.js";
import type { Replica } from "../replica/replica.js";
import { removeSeriesFiles } from "../replica/series-files.js";
import { containerName } from "../replica/topology.js";

// What a crashed run left, reverted: first what the fault ledger records (each entry by its
// kind's module), then a sweep by name and label that needs no ledger at all (each mechanism
// the registered kinds use, once: toxics named `faultline.*`, netfilter sidecars and FL
// chains, stopped or paused PoP containers, stress processes, a browned-out origin).

export type { Recovered } from "../faults/fault-kind.js";

/** Undoes one ledger entry, from the entry alone (no state of the run that wrote it). */
export async function revertEntry(entry: LedgerEntry, replica: Replica): Promise<string> {
  const kind = kindNamed(entry.kind);
  if (!kind) return `nothing known to revert for kind ${entry.kind}`;
  return kind.revertEntry(entry, replica);
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

/**
 * The replica's containers (its PoP services, instruments and fault sidecars), listed once. On
 * an attached stack: Faultline's sidecars by their labels, and the stack's mapped containers
 * by the ids discovery found (never any other of its containers).
 */
async function replicaContainers(replica: Replica): Promise<ReplicaContainer[]> {
  const containers = await engine().listContainers({
    all: true,
    filters: labelFilter(replica.topology.replica),
  });
  const labelled = containers.map((c) => ({
    id: c.Id,
    name: c.Names[0]?.replace(/^\//, "") ?? c.Id,
    service: c.Labels[LABEL_SERVICE] ?? "?",
    role: c.Labels[LABEL_ROLE] ?? "",
    state: c.State,
  }));
  const { attach, services } = replica.topology;
  if (!attach) return labelled;
  const ids = Object.values(attach.containers);
  const listed = ids.length ? await engine().listContainers({ all: true, filters: { id: ids } }) : [];
  const attached = Object.entries(attach.containers).flatMap(([service, id]) => {
    const c = listed.find((x) => x.Id === id);
    const role = services.find((s) => s.name === service)?.role ?? "";
    return c ? [{ id, name: id, service, role, state: c.State }] : [];
  });
  return [...labelled, ...attached];
}

/**
 * A crashed run's series for Prometheus (src/run/series.ts). On an attached stack, the
 * container of Faultline's serving them is removed and reported (it also exits by itself a
 * minute after the last write). In the built-in load balancer, the files are no fault, and
 * stop being served 30 s after the run's last write, so they are removed without a report.
 */
async function sweepSeries({ replica, containers, attempt, found }: SweepContext): Promise<void> {
  for (const c of containers.filter((c) => c.role === ATTACH_SERIES_ROLE))
    await attempt(`Faultline's series container ${c.name}`, async () => {
      if (await removeAttachSeries(replica.topology))
        found({
          kind: "container",
          target: "series",
          what: `removed Faultline's series container ${c.name}`,
        });
    });
  const host = seriesHost(replica.topology);
  if (!host) return;
  // The load balancer itself, not a sidecar carrying its service label (swept by now).
  const name = containerName(replica.topology, host);
  if (!containers.some((c) => c.name === name && c.state === "running")) return;
  await attempt("a crashed run's series", async () => void (await removeSeriesFiles(name, "*")));
}

/** What a crashed run left on the replica, one line each; empty when the replica is clean. */
export async function findLeftovers(replica: Replica): Promise<string[]> {
  const found: string[] = [];
  for (const e of readLedger(replica.topology.replica).entries) {
    found.push(`ledger: ${e.faultId} of run ${e.runId} (${e.description})`);
  }
  const containers = await replicaContainers(replica);
  for (const leftovers of allLeftovers()) found.push(...(await leftovers.find(replica, containers)));
  for (const c of containers.filter((c) => c.role === ATTACH_SERIES_ROLE))
    found.push(`Faultline's series container ${c.name}`);
  return found;
}

/**
 * Reverts every fault that any Faultline run left on the replica: the ledger first, then each
 * registered mechanism's sweep. A failing step is reported in `errors` and the rest goes on.
 * What is done is recorded in `outcome` as it happens, so a caller whose time limit ran out
 * still knows it.
 */
export async function recoverReplica(
  replica: Replica,
  outcome: { recovered: Recovered[]; errors: string[] } = { recovered: [], errors: [] },
): Promise<{ recovered: Recovered[]; errors: string[] }> {
  const { recovered, errors } = outcome;
  const attempt = async (what: string, step: () => Promise<void>) => {
    try {
      await step();
    } catch (error) {
      errors.push(`${what}: ${errorMessage(error)}`);
    }
  };
  await attempt("ledger", async () => {
    recovered.push(...(await revertLedger(replica)));
  });
  const containers = await replicaContainers(replica);
  const context: SweepContext = { replica, containers, attempt, found: (item) => recovered.push(item) };
  for (const leftovers of allLeftovers()) await leftovers.sweep(context);
  await sweepSeries(context);
  return outcome;
}
