import { EnvironmentError } from "../errors.js";
import { deadManSeconds } from "../lifecycle/watchdog.js";
import {
  type CertificateFlaw,
  combinedPem,
  issueCertificate,
  originCertificateNames,
  replicaAuthority,
} from "../replica/certificates.js";
import { originTlsConfig } from "../replica/configs.js";
import { execDetached, execIn } from "../replica/exec.js";
import type { Replica } from "../replica/replica.js";
import { ORIGIN_CERT_PATH, ORIGIN_TLS_CONF, ORIGIN_TLS_DIR } from "../replica/topology.js";

// The tls-certificate fault on the edge-to-origin hop (origin pull over TLS): the origin's
// nginx is pointed at a flawed certificate (its TLS config rewritten, then a reload), and the
// edges, which verify the origin, refuse it on their next connection. A reload closes the
// old worker's idle keepalive connections, so the edges reconnect at once; the fault counts
// as applied only once the old worker is gone (until then it may still answer handshakes with
// the sound certificate). A shell in the origin restores the sound config by itself at the
// fault's deadline plus the watchdog's grace; its pid file, and a config naming a flawed file,
// are how a revert and `recover` find it. A restarted origin writes the sound config back
// before nginx starts (originStartCommand in src/replica/configs.ts), as its deadline shell is gone with the restart.

/** The flawed certificate's file and the deadline shell's pid file, for one fault. */
const filesOf = (tag: string) => ({
  pem: `${ORIGIN_TLS_DIR}/flawed-${tag}.pem`,
  pid: `${ORIGIN_TLS_DIR}/flawed-${tag}.pid`,
});

/** Reloads nginx and waits (up to 5 s) until only the new worker is left. */
const RELOAD_AND_DRAIN = `nginx -t -q && nginx -s reload && for i in $(seq 100); do sleep 0.05; n=$(cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n' | grep -c '^nginx: worker process'); [ "$n" -le 1 ] && break; done`;

/** Writes the sound TLS config back when it is not, ends the deadline shells matching `glob`. */
function restoreScript(glob: string): string {
  const sound = originTlsConfig(ORIGIN_CERT_PATH);
  return `n=0; for f in ${ORIGIN_TLS_DIR}/flawed-${glob}.pid; do [ -f "$f" ] || continue; kill $(cat "$f") 2>/dev/null; rm -f "$f"; n=$((n+1)); done; rm -f ${ORIGIN_TLS_DIR}/flawed-${glob}.pem; if grep -q flawed- ${ORIGIN_TLS_CONF}; then printf '%s' '${sound}' > ${ORIGIN_TLS_CONF}; ${RELOAD_AND_DRAIN}; n=$((n+1)); fi; echo $n`;
}

/** Serves the sound certificate again; returns how many flawed pieces it undid. */
export async function restoreOrigin(container: string, glob: string): Promise<number> {
  const { exitCode, output } = await execIn(container, ["bash", "-c", restoreScript(glob)]);
  if (exitCode !== 0) throw new EnvironmentError(`restoring the origin's certificate failed: ${output}`);
  return Number(output.split("\n").pop()) || 0;
}

/** Whether the origin serves a flawed certificate (its config names one). */
export async function originFlawed(container: string): Promise<boolean> {
  const { output } = await execIn(container, ["sh", "-c", `grep -c flawed- ${ORIGIN_TLS_CONF} || true`]);
  return Number(output.trim()) > 0;
}

/** Points the origin's nginx at a flawed certificate, with its deadline shell; returns its TTL (s). */
export async function serveFlawedOnOrigin(
  replica: Replica,
  container: string,
  tag: string,
  flaw: CertificateFlaw,
  revertBy: number,
): Promise<number> {
  const authority = await replicaAuthority(replica.topology.replica);
  const flawed = await issueCertificate(authority, { names: originCertificateNames, flaw });
  const { pem, pid } = filesOf(tag);
  const ttl = deadManSeconds(revertBy);
  await execDetached(container, [
    "bash",
    "-c",
    // Both pids in the file: a revert ends the sleep too (an orphaned sleep holding the exec's
    // streams delays the engine's next exec in the container).
    `sleep ${ttl} & echo "$$ $!" > ${pid}; wait $!; rm -f ${pid}; ${restoreScript(tag)} >/dev/null`,
  ]);
  const { exitCode, output } = await execIn(container, [
    "bash",
    "-c",
    // The deadline shell first: from the moment the flawed certificate is served, it ends by itself.
    `for i in $(seq 50); do [ -f ${pid} ] && break; sleep 0.02; done; [ -f ${pid} ] || exit 1; umask 077; printf '%s' "$1" > ${pem} && printf '%s' "$2" > ${ORIGIN_TLS_CONF} && ${RELOAD_AND_DRAIN}`,
    "put",
    combinedPem(flawed),
    originTlsConfig(pem),
  ]);
  if (exitCode !== 0)
    throw new EnvironmentError(`the origin did not take the flawed certificate: ${output.trim()}`);
  return ttl;
}
