import { EnvironmentError } from "../errors.js";
import { deadManSeconds } from "../lifecycle/watchdog.js";
import {
  type CertificateFlaw,
  combinedPem,
  edgeCertificateNames,
  issueCertificate,
  originCertificateNames,
  replicaAuthority,
} from "../replica/certificates.js";
import { edgeTlsConfig, originTlsConfig } from "../replica/configs.js";
import { execDetached, execIn } from "../replica/exec.js";
import type { Replica } from "../replica/replica.js";
import {
  EDGE_CERT_PATH,
  EDGE_TLS_CONF,
  EDGE_TLS_DIR,
  ORIGIN_CERT_PATH,
  ORIGIN_TLS_CONF,
  ORIGIN_TLS_DIR,
} from "../replica/topology.js";

// The tls-certificate fault where an nginx of the replica serves TLS: the origin pulled over
// TLS, or an edge with TLS at the edges. Its nginx is pointed at a flawed certificate (its TLS
// config rewritten, then a reload), and the next handshake gets it. A reload closes the old
// worker's idle keepalive connections, so clients reconnect at once; the fault counts as
// applied only once the old worker is gone (until then it may still answer handshakes with
// the sound certificate). A shell in the container restores the sound config by itself at the
// fault's deadline plus the watchdog's grace; its pid file, and a config naming a flawed file,
// are how a revert and `recover` find it. A restarted container writes the sound config back
// before nginx starts (its start command in src/replica/configs.ts), as its deadline shell is
// gone with the restart.

/** Where one kind of nginx server keeps its TLS: its folder, sound config, and certificate names. */
export interface NginxTlsSite {
  dir: string;
  conf: string;
  /** Its TLS config serving `certificate`. */
  render(certificate: string): string;
  sound: string;
  names(service: string): string[];
}

export const ORIGIN_SITE: NginxTlsSite = {
  dir: ORIGIN_TLS_DIR,
  conf: ORIGIN_TLS_CONF,
  render: originTlsConfig,
  sound: ORIGIN_CERT_PATH,
  names: () => originCertificateNames,
};

export const EDGE_SITE: NginxTlsSite = {
  dir: EDGE_TLS_DIR,
  conf: EDGE_TLS_CONF,
  render: edgeTlsConfig,
  sound: EDGE_CERT_PATH,
  names: edgeCertificateNames,
};

/** The flawed certificate's file and the deadline shell's pid file, for one fault. */
const filesOf = (site: NginxTlsSite, tag: string) => ({
  pem: `${site.dir}/flawed-${tag}.pem`,
  pid: `${site.dir}/flawed-${tag}.pid`,
});

/** Reloads nginx and waits (up to 5 s) until only the new worker is left. */
const RELOAD_AND_DRAIN = `nginx -t -q && nginx -s reload && for i in $(seq 100); do sleep 0.05; n=$(cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n' | grep -c '^nginx: worker process'); [ "$n" -le 1 ] && break; done`;

/** Writes the sound TLS config back when it is not, ends the deadline shells matching `glob`. */
function restoreScript(site: NginxTlsSite, glob: string): string {
  const sound = site.render(site.sound);
  return `n=0; for f in ${site.dir}/flawed-${glob}.pid; do [ -f "$f" ] || continue; kill $(cat "$f") 2>/dev/null; rm -f "$f"; n=$((n+1)); done; rm -f ${site.dir}/flawed-${glob}.pem; if grep -q flawed- ${site.conf}; then printf '%s' '${sound}' > ${site.conf}; ${RELOAD_AND_DRAIN}; n=$((n+1)); fi; echo $n`;
}

/** Serves the sound certificate again; returns how many flawed pieces it undid. */
export async function restoreNginx(site: NginxTlsSite, container: string, glob: string): Promise<number> {
  const { exitCode, output } = await execIn(container, ["bash", "-c", restoreScript(site, glob)]);
  if (exitCode !== 0) throw new EnvironmentError(`restoring the certificate failed: ${output}`);
  return Number(output.split("\n").pop()) || 0;
}

/** Whether the container serves a flawed certificate (its config names one). */
export async function nginxFlawed(site: NginxTlsSite, container: string): Promise<boolean> {
  const { output } = await execIn(container, ["sh", "-c", `grep -c flawed- ${site.conf} || true`]);
  return Number(output.trim()) > 0;
}

/** Points the container's nginx at a flawed certificate, with its deadline shell; returns its TTL (s). */
export async function serveFlawedOnNginx(
  replica: Replica,
  target: { site: NginxTlsSite; container: string; service: string },
  tag: string,
  flaw: CertificateFlaw,
  revertBy: number,
): Promise<number> {
  const { site, container } = target;
  const authority = await replicaAuthority(replica.topology.replica);
  const flawed = await issueCertificate(authority, { names: site.names(target.service), flaw });
  const { pem, pid } = filesOf(site, tag);
  const ttl = deadManSeconds(revertBy);
  await execDetached(container, [
    "bash",
    "-c",
    // Both pids in the file: a revert ends the sleep too (an orphaned sleep holding the exec's
    // streams delays the engine's next exec in the container).
    `sleep ${ttl} & echo "$$ $!" > ${pid}; wait $!; rm -f ${pid}; ${restoreScript(site, tag)} >/dev/null`,
  ]);
  const { exitCode, output } = await execIn(container, [
    "bash",
    "-c",
    // The deadline shell first: from the moment the flawed certificate is served, it ends by itself.
    `for i in $(seq 50); do [ -f ${pid} ] && break; sleep 0.02; done; [ -f ${pid} ] || exit 1; umask 077; printf '%s' "$1" > ${pem} && printf '%s' "$2" > ${site.conf} && ${RELOAD_AND_DRAIN}`,
    "put",
    combinedPem(flawed),
    site.render(pem),
  ]);
  if (exitCode !== 0)
    throw new EnvironmentError(`${target.service} did not take the flawed certificate: ${output.trim()}`);
  return ttl;
}
