import { attachedLink } from "../replica/attach-links.js";
import {
  ensureAttachToxiproxy,
  findAttachToxiproxy,
  removeAttachToxiproxy,
} from "../replica/attach-toxiproxy.js";
import type { Replica } from "../replica/replica.js";
import { sidecarsOf, stopSidecar } from "./netfilter.js";
import { addressOn, redirectProxyName, startRedirect } from "./redirect.js";
import { REDIRECT_PREFIX, ToxiproxyApi } from "./toxiproxy.js";

// A link fault on an attached stack: Faultline's Toxiproxy for the stack
// (src/replica/attach-toxiproxy.ts), a transparent redirect of the target's clients (by role,
// src/replica/attach-links.ts) through a proxy on it, and the toxics on that proxy. The last
// redirect to go takes the Toxiproxy with it. Each step can be undone from the ledger entry
// alone: the sidecars by their labels, the proxy by its name, the Toxiproxy by its name.

export interface AttachedLinkPath {
  /** Faultline's Toxiproxy API (the toxics go there) and the proxy's name on it. */
  api: ToxiproxyApi;
  proxy: string;
  clients: readonly string[];
  /** The clients' established connections to the target, closed when the rules went in. */
  closed: number;
  stop(): Promise<void>;
}

// Starting and removing the Toxiproxy are serialized within a process: a revert that finds no
// proxy left must not remove it under an apply that is about to create one.
let queue: Promise<unknown> = Promise.resolve();
function serialized<T>(work: () => Promise<T>): Promise<T> {
  const next = queue.then(work, work);
  queue = next.catch(() => {});
  return next;
}

/** Redirects the traffic into `service` from its clients through a new proxy on Faultline's Toxiproxy. */
export async function startAttachedLink(
  replica: Replica,
  service: string,
  ids: { runId: string; faultId: string },
  revertBy: number,
  kind: string,
): Promise<AttachedLinkPath> {
  const { clients, port } = attachedLink(replica.topology, service, kind);
  if (port === undefined) throw new Error(`${service}: the attached stack was not discovered`);
  const to = { ip: await addressOn(replica, service), port };
  return serialized(async () => {
    const host = await ensureAttachToxiproxy(replica.topology, revertBy);
    try {
      const redirect = await startRedirect(replica, { clients, to }, ids, revertBy, host);
      const stop = () =>
        serialized(async () => {
          try {
            await redirect.stop();
          } catch (error) {
            // A Toxiproxy gone at its deadline took the proxy with it: only the sidecars count.
            const left = await sidecarsOf(replica, ids.runId, ids.faultId);
            if (left.length > 0 || (await findAttachToxiproxy(replica.topology))) throw error;
          }
          await releaseAttachToxiproxy(replica);
        });
      return {
        api: new ToxiproxyApi(host.api),
        proxy: redirect.proxy,
        clients,
        closed: redirect.closed,
        stop,
      };
    } catch (error) {
      await releaseAttachToxiproxy(replica).catch(() => {});
      throw error;
    }
  });
}

/** Removes Faultline's Toxiproxy of the stack once no redirect proxy is left on it. */
async function releaseAttachToxiproxy(replica: Replica): Promise<boolean> {
  const host = await findAttachToxiproxy(replica.topology);
  if (!host) return false;
  const proxies = await new ToxiproxyApi(host.api).proxyNames();
  if (proxies.some((p) => p.startsWith(REDIRECT_PREFIX))) return false;
  return removeAttachToxiproxy(replica.topology);
}

/** Undoes one action's attached link from its ids alone (the watchdog, `recover`). */
export async function stopAttachedLinkEntry(
  replica: Replica,
  ids: { runId: string; faultId: string },
): Promise<string> {
  const sidecars = await sidecarsOf(replica, ids.runId, ids.faultId);
  for (const id of sidecars) await stopSidecar(id);
  return serialized(async () => {
    const host = await findAttachToxiproxy(replica.topology);
    const proxy = redirectProxyName(ids.runId, ids.faultId);
    const removed = host ? await new ToxiproxyApi(host.api).removeProxy(proxy) : "absent";
    const gone = await releaseAttachToxiproxy(replica);
    return `stopped ${sidecars.length} redirect sidecar(s); proxy ${proxy} ${removed}${gone ? "; removed Faultline's Toxiproxy" : ""}`;
  });
}
