import { createHash } from "node:crypto";
import { EnvironmentError } from "../errors.js";
import { engine } from "../replica/engine.js";
import type { Replica } from "../replica/replica.js";
import { containerName } from "../replica/topology.js";
import { chainName, type Sidecar, startSidecar } from "./netfilter.js";
import { REDIRECT_PREFIX, ToxiproxyApi } from "./toxiproxy.js";

// A transparent redirect puts a Toxiproxy proxy on a link whose clients' config Faultline did
// not write: a proxy in a Toxiproxy container (the replica's, or the one Faultline starts for
// an attached stack), upstream the real destination, and in each client's network namespace
// a nat rule of a netfilter sidecar that sends the client's new connections to that
// destination to the proxy instead (DNAT in OUTPUT). The clients are not restarted and their
// config is not touched; toxics on the proxy then act on that link alone. The proxy's own
// connection to the destination leaves another namespace, so it is not redirected again.
// Connections a client opened before the rule would keep their path (conntrack): once the
// rule is in, the sidecar closes them (`ss -K`, the kernel's SOCK_DESTROY), so pooled
// keep-alive connections reopen through the proxy. The sidecars remove the rule at their
// deadline whatever happens to Faultline; the proxy, named `faultline.redirect.*`, is swept
// by `recover`.

export interface Redirect {
  /** The proxy's name: toxics for the redirected link go on it. */
  proxy: string;
  /** Where the clients' connections now go (the proxy's address on the replica network). */
  via: string;
  /** Established connections to the destination closed once the rules were in, over all clients. */
  closed: number;
  stop(): Promise<void>;
}

/** The Toxiproxy a redirect's proxy lives in: its API, and its address on the network. */
export interface RedirectHost {
  api: string;
  ip: string;
}

/** The proxy's name for one action of a run: its toxics and its revert go by it. */
export function redirectProxyName(runId: string, faultId: string): string {
  return `${REDIRECT_PREFIX}${chainName(runId, faultId).toLowerCase()}`;
}

/** A port for the proxy inside Toxiproxy's container, away from the replica's own links. */
function listenPort(chain: string): number {
  return 30_000 + (Number.parseInt(createHash("sha1").update(chain).digest("hex").slice(0, 6), 16) % 20_000);
}

/** A service's address on the replica's (or attached stack's) network. */
export async function addressOn(replica: Replica, service: string): Promise<string> {
  const info = await engine().inspectContainer(containerName(replica.topology, service));
  const ip = info.NetworkSettings.Networks[replica.topology.network]?.IPAddress;
  if (!ip) throw new EnvironmentError(`${service} has no address on network ${replica.topology.network}`);
  return ip;
}

/** The replica's own Toxiproxy, as a redirect's host. */
async function replicaToxiproxy(replica: Replica): Promise<RedirectHost> {
  return { api: replica.endpoints.toxiproxy, ip: await addressOn(replica, "toxiproxy") };
}

/** Closes the namespace's established TCP connections to `to`; returns how many. */
async function closeEstablished(sidecar: Sidecar, to: { ip: string; port: number }): Promise<number> {
  const filter = ["dst", to.ip, "dport", "=", `:${to.port}`];
  const result = await engine().exec(sidecar.id, ["ss", "-K", "-H", "-t", ...filter]);
  if (result.exitCode !== 0) throw new EnvironmentError(`ss -K in the sidecar failed: ${result.output}`);
  return result.output.split("\n").filter((line) => line.trim() !== "").length;
}

/** Starts one sidecar per client; all of them, or none. */
async function startSidecars(
  replica: Replica,
  clients: readonly string[],
  ids: { runId: string; faultId: string },
  dnat: string,
  revertBy: number,
): Promise<Sidecar[]> {
  const rules = { ingress: [], egress: [], nat: [dnat] };
  const started = await Promise.allSettled(
    clients.map((client) => startSidecar(replica, client, ids, rules, revertBy)),
  );
  const sidecars = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) {
    await Promise.allSettled(sidecars.map((s) => s.stop()));
    throw failed.reason;
  }
  return sidecars;
}

/**
 * Redirects the `clients`' new TCP connections to `to` (ip:port) through a new Toxiproxy
 * proxy (in `host`, by default the replica's Toxiproxy), and closes their established ones.
 */
export async function startRedirect(
  replica: Replica,
  link: { clients: readonly string[]; to: { ip: string; port: number } },
  ids: { runId: string; faultId: string },
  revertBy: number,
  host?: RedirectHost,
): Promise<Redirect> {
  const chain = chainName(ids.runId, ids.faultId);
  const proxy = redirectProxyName(ids.runId, ids.faultId);
  const toxiproxy = host ?? (await replicaToxiproxy(replica));
  const via = `${toxiproxy.ip}:${listenPort(chain)}`;
  const api = new ToxiproxyApi(toxiproxy.api);
  await api.createProxy(proxy, `0.0.0.0:${listenPort(chain)}`, `${link.to.ip}:${link.to.port}`);
  const dnat = `-p tcp -d ${link.to.ip} --dport ${link.to.port} -j DNAT --to-destination ${via}`;
  let sidecars: Sidecar[] = [];
  const stop = async () => {
    // Rules first (new connections go straight again), then the proxy (which closes its own).
    // A rule that could not be removed still sends its client to the proxy: the proxy stays
    // until the rule's own deadline, the watchdog or `recover` removes it, so the link stays up.
    const stopped = await Promise.allSettled(sidecars.map((s) => s.stop()));
    const failed = stopped.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;
    await api.removeProxy(proxy);
  };
  try {
    sidecars = await startSidecars(replica, link.clients, ids, dnat, revertBy);
    const closed = await Promise.all(sidecars.map((s) => closeEstablished(s, link.to)));
    return { proxy, via, closed: closed.reduce((a, b) => a + b, 0), stop };
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}
