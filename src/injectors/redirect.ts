import { createHash } from "node:crypto";
import { EnvironmentError } from "../errors.js";
import { engine } from "../replica/engine.js";
import type { Replica } from "../replica/replica.js";
import { containerName } from "../replica/topology.js";
import { chainName, startSidecar } from "./netfilter.js";
import { REDIRECT_PREFIX, ToxiproxyApi } from "./toxiproxy.js";

// A transparent redirect puts a Toxiproxy proxy on a link whose client's config Faultline did
// not write: a proxy in Faultline's Toxiproxy container, upstream the real destination, and in
// the client's network namespace a nat rule of a netfilter sidecar that sends the client's new
// connections to that destination to the proxy instead (DNAT in OUTPUT). The client is not
// restarted and its config is not touched; toxics on the proxy then act on that link alone.
// The proxy's own connection to the destination leaves another namespace, so it is not
// redirected again. Connections the client opened before the rule keep their path (conntrack)
// until they close. The sidecar removes the rule at its deadline whatever happens to
// Faultline; the proxy, named `faultline.redirect.*`, is swept by `recover`.

export interface Redirect {
  /** The proxy's name: toxics for the redirected link go on it. */
  proxy: string;
  /** Where the client's connections now go (the proxy's address on the replica network). */
  via: string;
  stop(): Promise<void>;
}

/** A port for the proxy inside Toxiproxy's container, away from the replica's own links. */
function listenPort(chain: string): number {
  return 30_000 + (Number.parseInt(createHash("sha1").update(chain).digest("hex").slice(0, 6), 16) % 20_000);
}

async function addressOn(replica: Replica, service: string): Promise<string> {
  const info = await engine().inspectContainer(containerName(replica.topology, service));
  const ip = info.NetworkSettings.Networks[replica.topology.network]?.IPAddress;
  if (!ip) throw new EnvironmentError(`${service} has no address on network ${replica.topology.network}`);
  return ip;
}

/** Redirects `client`'s new TCP connections to `to` (ip:port) through a new Toxiproxy proxy. */
export async function startRedirect(
  replica: Replica,
  link: { client: string; to: { ip: string; port: number } },
  ids: { runId: string; faultId: string },
  revertBy: number,
): Promise<Redirect> {
  const chain = chainName(ids.runId, ids.faultId);
  const proxy = `${REDIRECT_PREFIX}${chain.toLowerCase()}`;
  const port = listenPort(chain);
  const via = `${await addressOn(replica, "toxiproxy")}:${port}`;
  const api = new ToxiproxyApi(replica.endpoints.toxiproxy);
  await api.createProxy(proxy, `0.0.0.0:${port}`, `${link.to.ip}:${link.to.port}`);
  const dnat = `-p tcp -d ${link.to.ip} --dport ${link.to.port} -j DNAT --to-destination ${via}`;
  try {
    const sidecar = await startSidecar(
      replica,
      link.client,
      ids,
      { ingress: [], egress: [], nat: [dnat] },
      revertBy,
    );
    const stop = async () => {
      await sidecar.stop();
      await api.removeProxy(proxy);
    };
    return { proxy, via, stop };
  } catch (error) {
    await api.removeProxy(proxy).catch(() => {});
    throw error;
  }
}
