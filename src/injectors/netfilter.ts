import { createHash } from "node:crypto";
import { EnvironmentError, InvalidInputError } from "../errors.js";
import { waitUntil } from "../lifecycle/wait.js";
import { deadManSeconds } from "../lifecycle/watchdog.js";
import {
  isConflict,
  isNotFound,
  LABEL_FAULT,
  LABEL_REPLICA,
  LABEL_ROLE,
  LABEL_RUN,
  LABEL_SERVICE,
  SIDECAR_ROLE,
} from "../replica/docker.js";
import { engine } from "../replica/engine.js";
import type { Replica } from "../replica/replica.js";
import { containerName, imageFor, type Topology } from "../replica/topology.js";

// Packet-level faults run in a sidecar container that shares the target's network namespace
// and holds Faultline's rules there (see docker/netfilter). The sidecar removes its rules on
// SIGTERM and, whatever happens to Faultline, when its deadline passes.

export interface SidecarRules {
  ingress: string[];
  egress: string[];
  /** netem parameters for eth0 (egress); `egress` is the fallback where the kernel has no netem. */
  netem?: string;
  /** Rules of the nat table's OUTPUT (a transparent redirect of the namespace's own connections). */
  nat?: string[];
}

export interface Sidecar {
  /** Its container id. */
  id: string;
  backend: string;
  stop(): Promise<void>;
}

/**
 * Where a packet fault on `target` acts: in the service's own namespace, or, for a link
 * (e.g. pop-b-uplink), in Toxiproxy's namespace on that link's listening port only.
 */
export function netfilterScope(topology: Topology, target: string): { service: string; port?: number } {
  if (topology.services.some((s) => s.name === target)) return { service: target };
  const link = topology.links.find((l) => l.name === target);
  if (!link) throw new InvalidInputError(`no service or link "${target}" in replica ${topology.replica}`);
  if (link.proxied === false) {
    throw new InvalidInputError(`link ${target} bypasses Toxiproxy, so no fault can act on it`, {
      suggestion: "remove it from links.direct in the topology file, or target another link",
    });
  }
  return { service: "toxiproxy", port: link.listenPort };
}

/** Narrows rules to one TCP port: packets to it coming in, from it going out. */
export function onPort(rules: SidecarRules, port: number | undefined): SidecarRules {
  if (port === undefined) return rules;
  return {
    ingress: rules.ingress.map((r) => `-p tcp --dport ${port} ${r}`),
    egress: rules.egress.map((r) => `-p tcp --sport ${port} ${r}`),
  };
}

/** iptables chain names are short (28 characters): a hash of run and fault, prefixed FL. */
export function chainName(runId: string, faultId: string): string {
  return `FL${createHash("sha1").update(`${runId}/${faultId}`).digest("hex").slice(0, 8)}`;
}

export async function startSidecar(
  replica: Replica,
  service: string,
  ids: { runId: string; faultId: string },
  rules: SidecarRules,
  revertBy: number,
): Promise<Sidecar> {
  const info = await engine().inspectContainer(containerName(replica.topology, service));
  if (!info.State.Running) {
    throw new EnvironmentError(`${service} is not running, so its network cannot be faulted`);
  }
  const chain = chainName(ids.runId, ids.faultId);
  const ttlSeconds = deadManSeconds(revertBy);
  const id = await engine().createContainer({
    // Faultline's own container, named and labelled as its replica's even on an attached stack.
    name: `faultline-${replica.topology.replica}-${service}-${chain.toLowerCase()}`,
    Image: imageFor("netfilter"),
    Env: [
      `FAULTLINE_CHAIN=${chain}`,
      `FAULTLINE_TTL=${ttlSeconds}`,
      `FAULTLINE_RULES_IN=${rules.ingress.join("\n")}`,
      `FAULTLINE_RULES_OUT=${rules.netem ? "" : rules.egress.join("\n")}`,
      ...(rules.netem
        ? [`FAULTLINE_NETEM=${rules.netem}`, `FAULTLINE_RULES_OUT_FALLBACK=${rules.egress.join("\n")}`]
        : []),
      ...(rules.nat?.length ? [`FAULTLINE_RULES_NAT=${rules.nat.join("\n")}`] : []),
    ],
    Labels: {
      [LABEL_REPLICA]: replica.topology.replica,
      [LABEL_ROLE]: SIDECAR_ROLE,
      [LABEL_SERVICE]: service,
      [LABEL_RUN]: ids.runId,
      [LABEL_FAULT]: ids.faultId,
    },
    HostConfig: {
      NetworkMode: `container:${info.Id}`,
      CapAdd: ["NET_ADMIN"],
      AutoRemove: true,
    },
  });
  await engine().startContainer(id);

  let backend = "";
  try {
    backend = await waitUntil(
      async () => {
        const logs = await engine().containerLogs(id);
        const ready = /faultline-netfilter: ready backend=(\S+)/.exec(logs);
        if (ready?.[1]) return { done: true, value: ready[1] };
        if (/faultline-netfilter: failed/.test(logs))
          throw new EnvironmentError(`the netfilter sidecar failed: ${logs.trim()}`);
        return { done: false, reason: "sidecar not ready" };
      },
      { description: `the netfilter sidecar in ${service}`, timeoutMs: 15_000, intervalMs: 25 },
    );
  } catch (error) {
    await stopSidecar(id).catch(() => {});
    throw error;
  }
  return { id, backend, stop: () => stopSidecar(id) };
}

/** The sidecars of one action of a run, by their labels. */
export async function sidecarsOf(replica: Replica, runId: string, faultId: string): Promise<string[]> {
  const sidecars = await engine().listContainers({
    all: true,
    filters: {
      label: [
        `${LABEL_REPLICA}=${replica.topology.replica}`,
        `${LABEL_RUN}=${runId}`,
        `${LABEL_FAULT}=${faultId}`,
      ],
    },
  });
  return sidecars.map((s) => s.Id);
}

/** Asks a sidecar to remove its rules and waits until it is gone. Gone already is fine. */
export async function stopSidecar(id: string): Promise<void> {
  try {
    await engine().killContainer(id, "SIGTERM");
    await engine()
      .waitContainer(id, "removed")
      .catch(() => {});
  } catch (error) {
    // 404: already removed (its deadline passed); 409: not running, on its way out.
    if (isNotFound(error)) return;
    if (isConflict(error)) {
      await engine()
        .removeContainer(id, { force: true })
        .catch(() => {});
      return;
    }
    throw error;
  }
}

/** Runs `faultline-netfilter sweep` in a service's namespace: removes any FL chain left there. */
export async function sweepNamespace(replica: Replica, service: string): Promise<string[]> {
  const target = await engine().inspectContainer(containerName(replica.topology, service));
  if (!target.State.Running) return [];
  const id = await engine().createContainer({
    Image: imageFor("netfilter"),
    Cmd: ["sweep"],
    Labels: {
      [LABEL_REPLICA]: replica.topology.replica,
      [LABEL_ROLE]: SIDECAR_ROLE,
      [LABEL_SERVICE]: service,
    },
    HostConfig: { NetworkMode: `container:${target.Id}`, CapAdd: ["NET_ADMIN"] },
  });
  try {
    await engine().startContainer(id);
    await engine().waitContainer(id);
    const logs = await engine().containerLogs(id);
    return [...logs.matchAll(/removed (chain \S+|netem qdisc)/g)].map((m) => m[1] ?? "");
  } finally {
    await engine()
      .removeContainer(id, { force: true })
      .catch(() => {});
  }
}
