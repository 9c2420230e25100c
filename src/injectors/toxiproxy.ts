import { Toxiproxy } from "toxiproxy-node-client";
import { z } from "zod";

const toxicSchema = z.object({
  name: z.string(),
  type: z.string(),
  stream: z.enum(["upstream", "downstream"]),
  toxicity: z.number(),
  attributes: z.record(z.string(), z.unknown()),
});
export type ToxicInfo = z.infer<typeof toxicSchema>;

export type ToxicStream = "upstream" | "downstream";
export type ToxicType = "latency" | "bandwidth" | "timeout" | "reset_peer";

/** Every toxic Faultline creates starts with this prefix, so a sweep can find leftovers. */
export const TOXIC_PREFIX = "faultline.";
/** And every proxy it creates for a transparent redirect (src/injectors/redirect.ts). */
export const REDIRECT_PREFIX = "faultline.redirect.";

export function toxicName(runId: string, faultId: string, stream: ToxicStream): string {
  return `${TOXIC_PREFIX}${runId}.${faultId}.${stream}`;
}

/** Thin, typed access to one Toxiproxy server through toxiproxy-node-client. */
export class ToxiproxyApi {
  private readonly client: Toxiproxy;

  constructor(readonly url: string) {
    this.client = new Toxiproxy(url);
  }

  async proxyNames(): Promise<string[]> {
    return Object.keys(await this.client.getAll());
  }

  /** Creates a proxy listening on `listen` (host:port in Toxiproxy's container) to `upstream`. */
  async createProxy(name: string, listen: string, upstream: string): Promise<void> {
    await this.client.createProxy({ name, listen, upstream, enabled: true });
  }

  /** Deletes a proxy; one already gone counts as deleted (reverts are idempotent). */
  async removeProxy(name: string): Promise<"removed" | "absent"> {
    try {
      await this.client.api.delete(`${this.url}/proxies/${encodeURIComponent(name)}`);
      return "removed";
    } catch (error) {
      if (error instanceof Error && /status code 404/.test(error.message)) return "absent";
      throw error;
    }
  }

  async addToxic(
    proxy: string,
    toxic: {
      name: string;
      type: ToxicType;
      stream: ToxicStream;
      toxicity: number;
      attributes: Record<string, number>;
    },
  ): Promise<void> {
    const target = await this.client.get(proxy);
    await target.addToxic(toxic);
  }

  /** Removes a toxic; a toxic that is already gone counts as removed (reverts are idempotent). */
  async removeToxic(proxy: string, name: string): Promise<"removed" | "absent"> {
    try {
      await this.client.api.delete(
        `${this.url}/proxies/${encodeURIComponent(proxy)}/toxics/${encodeURIComponent(name)}`,
      );
      return "removed";
    } catch (error) {
      // toxiproxy-node-client drops the response body; the status is only in the message.
      if (error instanceof Error && /status code 404/.test(error.message)) return "absent";
      throw error;
    }
  }

  async toxics(proxy: string): Promise<ToxicInfo[]> {
    const response = await this.client.api.get<unknown>(
      `${this.url}/proxies/${encodeURIComponent(proxy)}/toxics`,
    );
    return z.array(toxicSchema).parse(response.data);
  }

  /** Removes every toxic of one fault (named `faultline.<run>.<fault>.<stream>`) from a proxy. */
  async removeFaultToxics(proxy: string, runId: string, faultId: string): Promise<number> {
    const prefix = `${TOXIC_PREFIX}${runId}.${faultId}.`;
    let all: ToxicInfo[];
    try {
      all = await this.toxics(proxy);
    } catch (error) {
      // No such proxy (a link that bypasses Toxiproxy, an older topology): nothing to remove.
      if (error instanceof Error && /status code 404/.test(error.message)) return 0;
      throw error;
    }
    const toxics = all.filter((t) => t.name.startsWith(prefix));
    for (const t of toxics) await this.removeToxic(proxy, t.name);
    return toxics.length;
  }

  /** Every toxic on the server whose name marks it as Faultline's. */
  async faultlineToxics(): Promise<{ proxy: string; toxic: ToxicInfo }[]> {
    const out: { proxy: string; toxic: ToxicInfo }[] = [];
    for (const proxy of await this.proxyNames()) {
      for (const toxic of await this.toxics(proxy)) {
        if (toxic.name.startsWith(TOXIC_PREFIX)) out.push({ proxy, toxic });
      }
    }
    return out;
  }
}
