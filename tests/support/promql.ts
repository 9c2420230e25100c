// PromQL against a Prometheus on loopback, for tests that look at whole vectors and ranges
// (src/steady-state's queryPrometheus returns one value).

export interface PromSample {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

/** An instant query, or a range query at a one-second step. */
export async function promQuery(
  prometheus: string,
  promql: string,
  range?: { start: number; end: number },
): Promise<PromSample[]> {
  const params = new URLSearchParams({ query: promql });
  if (range) for (const [k, v] of Object.entries({ ...range, step: 1 })) params.set(k, String(v));
  const url = `${prometheus}/api/v1/${range ? "query_range" : "query"}`;
  const body = (await (await fetch(url, { method: "POST", body: params })).json()) as {
    data: { result: PromSample[] };
  };
  return body.data.result;
}

/**
 * After a run, once `settleMs` has passed: how many `faultline_*` series of the run are still
 * there, and how many one-second points of its fault's window the range since `startedSec` holds.
 */
export async function seriesAfterRun(
  prometheus: string,
  runId: string,
  startedSec: number,
  settleMs: number,
): Promise<{ left: PromSample[]; windowPoints: number }> {
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  const left = await promQuery(prometheus, `{__name__=~"faultline_.+", run="${runId}"}`);
  const history = await promQuery(prometheus, `faultline_fault_active{run="${runId}"}`, {
    start: startedSec,
    end: Date.now() / 1000,
  });
  return { left, windowPoints: history[0]?.values?.length ?? 0 };
}
