import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { errorMessage } from "../errors.js";
import type { CommandProbe, HttpProbe, Probe } from "../experiments/check-schema.js";
import { isConflict, isNotFound } from "../replica/docker.js";
import { execIn } from "../replica/exec.js";
import type { Replica } from "../replica/replica.js";
import { containerName } from "../replica/topology.js";
import { formatDuration } from "../units.js";
import type { ProbeSample } from "./checks.js";
import { sampleDns } from "./dns-probe.js";
import { sampleTls } from "./tls-probe.js";

// Probes sample something other than the load Faultline drives: a PromQL query against the
// replica's Prometheus, an HTTP request, a command. Each sample is journaled; a window's value
// is computed from the samples taken in it (checks.ts), so verdicts stay a function of the
// journal. A probe that fails yields a sample with an error, never an exception.

export type SampleOutcome = Omit<ProbeSample, "key" | "second">;

const promqlResponse = z.discriminatedUnion("status", [
  z.object({
    status: z.literal("success"),
    data: z.discriminatedUnion("resultType", [
      z.object({ resultType: z.literal("scalar"), result: z.tuple([z.number(), z.string()]) }),
      z.object({
        resultType: z.literal("vector"),
        result: z.array(
          z.object({ metric: z.record(z.string(), z.string()), value: z.tuple([z.number(), z.string()]) }),
        ),
      }),
      z.object({ resultType: z.literal("matrix"), result: z.array(z.unknown()) }),
      z.object({ resultType: z.literal("string"), result: z.tuple([z.number(), z.string()]) }),
    ]),
  }),
  z.object({ status: z.literal("error"), errorType: z.string(), error: z.string() }),
]);

/** Prometheus refused the query itself (a syntax or type error): the experiment is wrong. */
export class PromqlQueryError extends Error {}

/** Prometheus could not be reached or answered something that is not its API. */
export class PrometheusUnavailableError extends Error {}

const describeSeries = (metric: Record<string, string>) =>
  `{${Object.entries(metric)
    .map(([k, v]) => `${k}="${v}"`)
    .join(", ")}}`;

/**
 * Runs an instant query. Returns the value of a scalar or of a single series; a query that
 * matches nothing, several series, or yields NaN has no value (the reason is returned).
 */
export async function queryPrometheus(
  baseUrl: string,
  query: string,
  options: { timeMs?: number; timeoutMs?: number } = {},
): Promise<{ value: number } | { error: string }> {
  const params = new URLSearchParams({ query });
  if (options.timeMs !== undefined) params.set("time", (options.timeMs / 1000).toFixed(3));
  let body: unknown;
  try {
    const response = await fetch(`${baseUrl}/api/v1/query`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: params,
      signal: AbortSignal.timeout(options.timeoutMs ?? 2000),
    });
    body = await response.json();
  } catch (error) {
    throw new PrometheusUnavailableError(`Prometheus at ${baseUrl} did not answer: ${causeOf(error)}`);
  }
  const parsed = promqlResponse.safeParse(body);
  if (!parsed.success)
    throw new PrometheusUnavailableError(`Prometheus at ${baseUrl} answered an unknown shape`);
  const answer = parsed.data;
  if (answer.status === "error") {
    // bad_data: the query does not parse; execution: it cannot be evaluated (e.g. many-to-many matching).
    if (answer.errorType === "bad_data" || answer.errorType === "execution")
      throw new PromqlQueryError(answer.error);
    throw new PrometheusUnavailableError(`Prometheus: ${answer.errorType}: ${answer.error}`);
  }
  const data = answer.data;
  let text: string;
  if (data.resultType === "scalar") {
    text = data.result[1];
  } else if (data.resultType === "vector") {
    if (data.result.length === 0)
      return { error: "the query matched no series (if none means zero, end it with `or vector(0)`)" };
    if (data.result.length > 1) {
      const shown = data.result.slice(0, 2).map((s) => describeSeries(s.metric));
      return {
        error: `the query returned ${data.result.length} series (${shown.join(", ")}${data.result.length > 2 ? ", ..." : ""}); aggregate them to one, e.g. with sum() or max()`,
      };
    }
    text = (data.result[0] as { value: [number, string] }).value[1];
  } else {
    return { error: `the query returned a ${data.resultType}; expected a scalar or one series` };
  }
  // Prometheus writes infinities as +Inf and -Inf (histogram_quantile beyond the last bucket).
  const value = /^\+?Inf$/.test(text)
    ? Number.POSITIVE_INFINITY
    : text === "-Inf"
      ? Number.NEGATIVE_INFINITY
      : Number(text);
  return Number.isNaN(value) ? { error: `the query's value is ${text}` } : { value };
}

/** Node's fetch hides the reason (ECONNREFUSED, a timeout) in `cause`. */
function causeOf(error: unknown): string {
  if (error instanceof Error && error.name === "TimeoutError") return "no answer in time";
  const cause =
    error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
  return cause?.code ?? cause?.message ?? errorMessage(error);
}

export function httpProbeUrl(probe: HttpProbe, replica: Replica): string {
  if (probe.url) return probe.url;
  const endpoints = replica.endpoints;
  const base = {
    lb: endpoints.lb,
    "lb-stats": endpoints.lbStats,
    prometheus: endpoints.prometheus,
    toxiproxy: endpoints.toxiproxy,
  }[probe.endpoint];
  return `${base}${probe.path}`;
}

async function sampleHttp(probe: HttpProbe, replica: Replica): Promise<SampleOutcome> {
  const url = httpProbeUrl(probe, replica);
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
  try {
    const response = await fetch(url, {
      method: probe.method,
      headers: probe.headers,
      ...(probe.send === undefined ? {} : { body: probe.send }),
      signal: AbortSignal.timeout(probe.timeoutMs),
      redirect: "manual",
    });
    const text =
      probe.body === undefined ? await response.arrayBuffer().then(() => "") : await response.text();
    const latencyMs = elapsed();
    const statusOk = probe.status ? probe.status.includes(response.status) : response.status < 400;
    if (!statusOk) {
      return {
        ok: false,
        latencyMs,
        error: `status ${response.status}, expected ${probe.status ? probe.status.join(" or ") : "below 400"}`,
      };
    }
    if (probe.body !== undefined && !new RegExp(probe.body).test(text)) {
      return { ok: false, latencyMs, error: `the body did not match /${probe.body}/` };
    }
    return { ok: true, latencyMs };
  } catch (error) {
    const timedOut = error instanceof Error && error.name === "TimeoutError";
    // No answer at all counts as the slowest answer allowed: a refused probe is not "no data".
    return {
      ok: false,
      latencyMs: probe.timeoutMs,
      error: timedOut ? `no answer within ${formatDuration(probe.timeoutMs)}` : `${url}: ${causeOf(error)}`,
    };
  }
}

const MAX_OUTPUT = 1024 * 1024;

/**
 * Runs a command on this machine in its own process group, so that a timeout stops the whole
 * pipeline (`curl ... | grep ...`), not only the shell.
 */
function runOnHost(
  argv: readonly string[],
  timeoutMs: number,
): Promise<{ exitCode: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    let timedOut = false;
    const collect = (chunk: Buffer) => {
      if (output.length < MAX_OUTPUT) output += chunk.toString("utf8");
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
    }, timeoutMs);
    child.once("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(error.code === "ENOENT" ? new Error(`command not found: ${argv[0]}`) : error);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return reject(new Error(`still running after ${formatDuration(timeoutMs)}; stopped`));
      resolve({ exitCode: code ?? (signal ? 128 : 1), output: output.trim() });
    });
  });
}

async function runInContainer(
  replica: Replica,
  service: string,
  argv: readonly string[],
  timeoutMs: number,
): Promise<{ exitCode: number; output: string }> {
  // `timeout` inside the container stops the command there; the race stops our wait.
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  const container = containerName(replica.topology, service);
  // The exec's own deadline, a little after the race below, releases its connection.
  const exec = execIn(container, ["timeout", "-s", "KILL", String(seconds), ...argv], {
    timeoutMs: timeoutMs + 2000,
  }).catch((error: unknown) => {
    // The engine answers 409 for a stopped or paused container, 404 for a missing one.
    if (isConflict(error)) throw new Error(`${service} is not running (stopped or paused)`);
    if (isNotFound(error)) throw new Error(`${service} has no container (${container})`);
    throw error;
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`still running after ${formatDuration(timeoutMs)}`)),
      timeoutMs + 1000,
    );
  });
  try {
    const result = await Promise.race([exec, deadline]);
    if (result.exitCode === 137) throw new Error(`still running after ${formatDuration(timeoutMs)}; stopped`);
    return result;
  } finally {
    clearTimeout(timer);
  }
}

async function sampleCommand(probe: CommandProbe, replica: Replica): Promise<SampleOutcome> {
  try {
    const { exitCode, output } = probe.in
      ? await runInContainer(replica, probe.in, probe.argv, probe.timeoutMs)
      : await runOnHost(probe.argv, probe.timeoutMs);
    if (exitCode !== probe.exit) {
      const tail = output.split("\n").slice(-1)[0]?.slice(0, 200) ?? "";
      return { ok: false, error: `exit ${exitCode}, expected ${probe.exit}${tail ? `: ${tail}` : ""}` };
    }
    if (probe.output !== undefined && !new RegExp(probe.output).test(output)) {
      return { ok: false, error: `the output did not match /${probe.output}/` };
    }
    return { ok: true };
  } catch (error) {
    return { ok: false, error: errorMessage(error) };
  }
}

/** One sample of a probe; failures are returned in the sample, not thrown. */
export async function sampleProbe(probe: Probe, replica: Replica): Promise<SampleOutcome> {
  switch (probe.kind) {
    case "promql":
      try {
        const result = await queryPrometheus(replica.endpoints.prometheus, probe.query);
        return "value" in result ? { value: result.value } : { error: result.error };
      } catch (error) {
        return { error: errorMessage(error) };
      }
    case "http":
      return sampleHttp(probe, replica);
    case "command":
      return sampleCommand(probe, replica);
    case "tls":
      return sampleTls(probe, replica);
    case "dns":
      return sampleDns(probe, replica);
  }
}

export interface ScheduledProbe {
  key: string;
  probe: Probe;
}

/**
 * Samples every probe on its own schedule (every `everyMs` from `t0`) until stopped. A sample
 * that takes longer than its interval delays the next one; samples of one probe never overlap.
 * Stopping at the end of a run waits for samples in flight and records them (they belong to
 * the last window); stopping on an interrupt drops them and returns at once.
 */
export function startProbes(
  probes: readonly ScheduledProbe[],
  replica: Replica,
  t0: number,
  onSample: (sample: ProbeSample) => void,
  sample: (probe: Probe, replica: Replica) => Promise<SampleOutcome> = sampleProbe,
): { stop(options?: { waitForInFlight?: boolean }): Promise<void> } {
  const controller = new AbortController();
  const { signal } = controller;
  let keepInFlight = false;
  const loops = probes.map(async ({ key, probe }) => {
    let tick = 0;
    while (!signal.aborted) {
      const due = t0 + tick * probe.everyMs;
      const wait = due - Date.now();
      if (wait > 0) {
        await sleep(wait, undefined, { signal }).catch(() => {});
        if (signal.aborted) break;
      }
      const startedAt = Date.now();
      const outcome = await sample(probe, replica);
      if (signal.aborted && !keepInFlight) break;
      try {
        onSample({ key, second: Math.round((startedAt - t0) / 10) / 100, ...outcome });
      } catch {
        // The journal could not take it (e.g. a full disk): the run reports that elsewhere.
      }
      tick = Math.max(tick + 1, Math.ceil((Date.now() - t0) / probe.everyMs));
    }
  });
  return {
    stop: async (options = {}) => {
      keepInFlight = options.waitForInFlight === true;
      controller.abort();
      if (keepInFlight) await Promise.all(loops);
      else await Promise.race([Promise.all(loops), sleep(50)]);
    },
  };
}
