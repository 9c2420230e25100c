import { z } from "zod";
import { EnvironmentError, InvalidInputError } from "../errors.js";
import { chainName } from "../injectors/netfilter.js";
import { deadManSeconds } from "../lifecycle/watchdog.js";
import {
  type CertificateFlaw,
  certificateFlaws,
  combinedPem,
  issueCertificate,
  popCertificateNames,
  replicaAuthority,
} from "../replica/certificates.js";
import { execDetached, execIn } from "../replica/exec.js";
import type { Replica } from "../replica/replica.js";
import {
  containerName,
  LB_ADMIN_PORT,
  LB_CERT_PATH,
  LB_RUN_DIR,
  type Topology,
} from "../replica/topology.js";
import { formatDuration } from "../units.js";
import type { FaultKindModule, InjectorContext, Leftovers, ReplicaContainer } from "./fault-kind.js";
import { faultTiming } from "./fields.js";
import {
  EDGE_SITE,
  type NginxTlsSite,
  nginxFlawed,
  ORIGIN_SITE,
  restoreNginx,
  serveFlawedOnNginx,
} from "./nginx-certificate.js";

// A flawed certificate served where the PoP terminates TLS: expired, not yet valid, for
// another name, or signed by a CA nobody trusts. HAProxy's runtime API swaps the certificate
// it serves in memory (`set ssl cert` + `commit ssl cert`), atomically for new handshakes;
// the file on disk stays the sound one, and restoring is loading it again. A shell in the
// container restores it by itself at the fault's deadline (plus the watchdog's grace), so a
// dead Faultline leaves no flawed certificate behind; its pid file is how a revert stops it
// and how `recover` finds anyone's.

export const tlsCertificateFaultSchema = z.strictObject({
  fault: z.literal("tls-certificate"),
  ...faultTiming,
  flaw: z
    .enum(certificateFlaws, { error: `expected flaw to be one of ${certificateFlaws.join(", ")}` })
    .describe("what is wrong with the certificate served instead of the sound one"),
});
export type TlsCertificateFault = z.infer<typeof tlsCertificateFaultSchema>;

const PREFIX = "tls-";
// Its files live in LB_RUN_DIR, a tmpfs of the load balancer: a restarted container starts
// with none of them, as HAProxy then starts with its own certificate.
const tagOf = (runId: string, faultId: string) => `${PREFIX}${chainName(runId, faultId).toLowerCase()}`;

/** A bash script loading `source` as the served certificate through the runtime API. */
function loadCertificate(source: string): string {
  const api = `/dev/tcp/127.0.0.1/${LB_ADMIN_PORT}`;
  return [
    `exec 3<>${api}; { printf 'set ssl cert %s <<\\n' ${LB_CERT_PATH}; cat ${source}; printf '\\n'; } >&3; cat <&3`,
    `exec 3<>${api}; printf 'commit ssl cert %s\\n' ${LB_CERT_PATH} >&3; cat <&3`,
  ].join("; ");
}

/** Loads the file on disk again (the sound certificate), ends the deadline shells matching `glob`. */
async function restore(container: string, glob: string): Promise<number> {
  const script = `n=0; for f in ${LB_RUN_DIR}/${glob}.pid; do [ -f "$f" ] || continue; kill $(cat "$f") 2>/dev/null; rm -f "$f" "\${f%.pid}.pem"; n=$((n+1)); done; if [ $n -gt 0 ]; then ${loadCertificate(LB_CERT_PATH)} >/dev/null; fi; echo $n`;
  const { exitCode, output } = await execIn(container, ["bash", "-c", script]);
  if (exitCode !== 0) throw new EnvironmentError(`restoring the certificate failed: ${output}`);
  return Number(output.split("\n").pop()) || 0;
}

const flawText: Record<CertificateFlaw, string> = {
  expired: "an expired certificate",
  "not-yet-valid": "a certificate not valid yet",
  "wrong-name": "a certificate for another name",
  untrusted: "a certificate of an untrusted CA",
};

/** Puts the flawed certificate beside the sound one, starts the deadline shell, loads the flawed one. */
async function serveFlawed(fault: TlsCertificateFault, context: InjectorContext, container: string) {
  const tag = tagOf(context.runId, context.faultId);
  const authority = await replicaAuthority(context.replica.topology.replica);
  const flawed = await issueCertificate(authority, {
    names: popCertificateNames(context.service),
    flaw: fault.flaw,
  });
  // Written by a shell, not the engine's archive call: that does not reach into a tmpfs.
  const put = await execIn(container, [
    "bash",
    "-c",
    `umask 077; printf '%s' "$1" > ${LB_RUN_DIR}/${tag}.pem`,
    "put",
    combinedPem(flawed),
  ]);
  if (put.exitCode !== 0) throw new EnvironmentError(`writing the flawed certificate failed: ${put.output}`);
  const ttl = deadManSeconds(context.revertBy);
  // The deadline shell first: from the moment the flawed certificate is served, it is undone by itself.
  await execDetached(container, [
    "bash",
    "-c",
    // Both pids in the file: a revert ends the sleep too (an orphaned sleep holding the exec's
    // streams delays the engine's next exec in this container by about 4 s).
    `sleep ${ttl} & echo "$$ $!" > ${LB_RUN_DIR}/${tag}.pid; wait $!; ${loadCertificate(LB_CERT_PATH)} >/dev/null; rm -f ${LB_RUN_DIR}/${tag}.pid ${LB_RUN_DIR}/${tag}.pem`,
  ]);
  const { exitCode, output } = await execIn(container, [
    "bash",
    "-c",
    `for i in $(seq 50); do [ -f ${LB_RUN_DIR}/${tag}.pid ] && break; sleep 0.02; done; ${loadCertificate(`${LB_RUN_DIR}/${tag}.pem`)}`,
  ]);
  if (exitCode !== 0 || !/Success/.test(output))
    throw new EnvironmentError(`HAProxy did not take the flawed certificate: ${output.trim()}`);
  return ttl;
}

async function countSwaps(container: string): Promise<number> {
  const { output } = await execIn(container, [
    "sh",
    "-c",
    `ls ${LB_RUN_DIR}/${PREFIX}*.pid 2>/dev/null | wc -l`,
  ]);
  return Number(output) || 0;
}

/** Flawed certificates still served by a load balancer (their deadline shells say so). */
const certificateLeftovers: Leftovers = {
  id: "tls-certificates",
  order: 1,
  async find(replica, containers) {
    if (!replica.topology.tls) return [];
    const found: string[] = [];
    for (const c of containers.filter((c) => c.role === "lb" && c.state === "running")) {
      const n = await countSwaps(c.name);
      if (n > 0) found.push(`a flawed certificate served by ${c.service}`);
    }
    return found;
  },
  async sweep({ replica, containers, attempt, found }) {
    if (!replica.topology.tls) return;
    for (const c of containers.filter((c) => c.role === "lb" && c.state === "running")) {
      await attempt(`the certificate of ${c.service}`, async () => {
        const n = await restore(containerName(replica.topology, c.service), `${PREFIX}*`);
        if (n > 0) found({ kind: "config", target: c.service, what: "its own certificate served again" });
      });
    }
  },
};

/** Flawed certificates still served by an nginx of the replica (`role`), where `serves` says it serves TLS. */
function nginxLeftovers(
  id: string,
  role: "origin" | "edge",
  site: NginxTlsSite,
  serves: (topology: Topology) => boolean,
): Leftovers {
  const running = (containers: readonly ReplicaContainer[]) =>
    containers.filter((c) => c.role === role && c.state === "running");
  return {
    id,
    order: 1,
    async find(replica, containers) {
      if (!serves(replica.topology)) return [];
      const flawed = await Promise.all(
        running(containers).map(async (c) => ((await nginxFlawed(site, c.name)) ? [c] : [])),
      );
      return flawed.flat().map((c) => `a flawed certificate served by ${c.service}`);
    },
    async sweep({ replica, containers, attempt, found }) {
      if (!serves(replica.topology)) return;
      for (const c of running(containers)) {
        await attempt(`the certificate of ${c.service}`, async () => {
          const n = await restoreNginx(site, c.name, "*");
          if (n > 0) found({ kind: "config", target: c.service, what: "its own certificate served again" });
        });
      }
    },
  };
}

/** The nginx site a fault on `service` acts on: the origin pulled over TLS, an edge ending TLS; none for the load balancer. */
function siteOf(topology: Topology, service: string): NginxTlsSite | undefined {
  const role = topology.services.find((s) => s.name === service)?.role;
  if (role === "origin" && topology.tls?.originPull) return ORIGIN_SITE;
  if (role === "edge" && topology.tls?.terminate === "edges") return EDGE_SITE;
  return undefined;
}

/** What serves TLS in this replica, for a refusal's suggestion. */
function tlsTargets(topology: Topology): string {
  if (!topology.tls)
    return "run it on a replica whose topology file has tls: (topologies/https.yaml terminates at the lb, topologies/https-edges.yaml at the edges)";
  const front =
    topology.tls.terminate === "edges"
      ? "an edge (target: edge-1, or { role: edge }), where this replica terminates TLS"
      : "the load balancer (target: lb), where this replica terminates TLS";
  return `target ${front}${topology.tls.originPull ? ", or the origin (target: origin)" : ""}`;
}

function check(_fault: TlsCertificateFault, service: string, topology: Topology): void {
  const role = topology.services.find((s) => s.name === service)?.role;
  if (siteOf(topology, service) || (role === "lb" && topology.tls?.terminate === "lb")) return;
  const passes = role === "lb" && topology.tls?.terminate === "edges";
  throw new InvalidInputError(
    `a certificate fault on a target that does not terminate TLS: ${service} ${passes ? "passes TLS through to the edges" : "serves no TLS"}${topology.tls ? "" : ` (replica ${topology.replica} serves plain HTTP)`}`,
    { suggestion: tlsTargets(topology) },
  );
}

export const tlsCertificate: FaultKindModule<typeof tlsCertificateFaultSchema> = {
  kind: "tls-certificate",
  schema: tlsCertificateFaultSchema,
  summary:
    "serves an expired, not-yet-valid, wrong-name or untrusted certificate where the PoP terminates TLS (the lb or an edge), or on the origin pulled over TLS",
  scaffold: { target: "lb", lines: ["flaw: expired             # or not-yet-valid, wrong-name, untrusted"] },
  disruptive: () => false,
  // One certificate is served at a time: an overlapping fault's revert would end the other's.
  exclusive: () => "its one served certificate",
  check,
  describe: (fault, service) => `serve ${flawText[fault.flaw]} on ${service}`,
  describeRevert: (_fault, service) => `serve ${service}'s own certificate again`,
  async apply(fault, context) {
    const container = containerName(context.replica.topology, context.service);
    const tag = tagOf(context.runId, context.faultId);
    const site = siteOf(context.replica.topology, context.service);
    const revert = async () =>
      void (await (site ? restoreNginx(site, container, tag) : restore(container, tag)));
    try {
      const ttl = site
        ? await serveFlawedOnNginx(
            context.replica,
            { site, container, service: context.service },
            tag,
            fault.flaw,
            context.revertBy,
          )
        : await serveFlawed(fault, context, container);
      return {
        description: `${flawText[fault.flaw]} served on ${context.service} (its own comes back by itself after ${formatDuration(ttl * 1000)})`,
        revert,
      };
    } catch (error) {
      await revert().catch(() => {});
      throw error;
    }
  },
  async revertEntry(entry, replica: Replica) {
    const container = containerName(replica.topology, entry.service);
    const tag = tagOf(entry.runId, entry.faultId);
    const site = siteOf(replica.topology, entry.service);
    const n = site ? await restoreNginx(site, container, tag) : await restore(container, tag);
    return n > 0 ? `${entry.service} serves its own certificate again` : "no flawed certificate was served";
  },
  leftovers: [
    certificateLeftovers,
    nginxLeftovers("tls-origin-certificates", "origin", ORIGIN_SITE, (t) => t.tls?.originPull === true),
    nginxLeftovers("tls-edge-certificates", "edge", EDGE_SITE, (t) => t.tls?.terminate === "edges"),
  ],
};
