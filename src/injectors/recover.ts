import type { Replica } from "../replica/replica.js";
import { ToxiproxyApi } from "./toxiproxy.js";

export interface Recovered {
  kind: "toxic";
  target: string;
  name: string;
}

/**
 * Reverts every fault that any Faultline run left on the replica (a crashed or killed CLI).
 * Finds them by name, so it needs no state from the run that created them.
 */
export async function recoverReplica(replica: Replica): Promise<Recovered[]> {
  const api = new ToxiproxyApi(replica.endpoints.toxiproxy);
  const recovered: Recovered[] = [];
  for (const { proxy, toxic } of await api.faultlineToxics()) {
    await api.removeToxic(proxy, toxic.name);
    recovered.push({ kind: "toxic", target: proxy, name: toxic.name });
  }
  return recovered;
}
