import { authorityCertFile } from "../../src/replica/certificates.js";
import type { Replica } from "../../src/replica/replica.js";
import { VegetaDriver } from "../../src/steady-state/vegeta.js";

/** What a bounded HTTPS load saw: requests, 200s, certificate failures, the first error, 200s by edge. */
export interface HttpsLoadResult {
  requests: number;
  ok: number;
  certificateErrors: number;
  firstError: string;
  okByEdge: Record<string, number>;
}

/**
 * New-connection HTTPS load (vegeta, a handshake per request) on the replica's TLS entry point,
 * trusting its CA: `rate` requests a second for `ms`.
 */
export async function httpsLoad(
  replica: Replica,
  options: { ms: number; rate: number },
): Promise<HttpsLoadResult> {
  const result: HttpsLoadResult = { requests: 0, ok: 0, certificateErrors: 0, firstError: "", okByEdge: {} };
  const load = new VegetaDriver().start(
    {
      url: `https://${replica.endpoints.lbTls}/`,
      ratePerSecond: options.rate,
      maxDurationMs: options.ms,
      timeoutMs: 2000,
      connection: "new",
      caFile: authorityCertFile(replica.topology.replica),
    },
    (sample) => {
      result.requests++;
      if (sample.status === 200) {
        result.ok++;
        const edge = sample.edge ?? "?";
        result.okByEdge[edge] = (result.okByEdge[edge] ?? 0) + 1;
      } else result.firstError ||= sample.error;
      if (/certificate/.test(sample.error)) result.certificateErrors++;
    },
  );
  await load.finished;
  return result;
}
