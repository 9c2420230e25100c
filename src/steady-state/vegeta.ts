import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { z } from "zod";
import { EnvironmentError } from "../errors.js";
import type { LoadDriver, LoadPlan, LoadSummary, RunningLoad } from "./load-driver.js";
import type { Sample } from "./sample.js";

const execFileAsync = promisify(execFile);

// faultline-load (tools/loadgen) drives the load with vegeta's attack library: a weighted mix,
// stages and connection modes that vegeta's command line cannot pace. One result per line.
const resultSchema = z.object({
  timestamp: z.string(),
  latency: z.number(),
  code: z.number(),
  error: z.string(),
  edge: z.string().optional(),
  cache: z.string().optional(),
  request: z.string().optional(),
});

const ALLOWED_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** Finds the load generator: FAULTLINE_LOADGEN, the project's tools folder, then PATH. */
export function findLoadgen(): string {
  const fromEnv = process.env.FAULTLINE_LOADGEN;
  if (fromEnv) return fromEnv;
  const local = fileURLToPath(new URL("../../.tools/bin/faultline-load", import.meta.url));
  if (existsSync(local)) return local;
  return "faultline-load";
}

export function parseVegetaLine(line: string): Sample | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  const parsed = resultSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const r = parsed.data;
  return {
    startedAt: Date.parse(r.timestamp),
    latencyMs: r.latency / 1e6,
    status: r.code,
    error: r.error,
    edge: r.edge || undefined,
    ...(r.request ? { request: r.request } : {}),
    ...(r.cache ? { cache: r.cache } : {}),
  };
}

/** A request's URL on the plan's origin; a path that would leave it (`//host/...`) is refused. */
function sameOrigin(path: string, base: URL): string {
  const url = new URL(path, base.origin);
  if (url.origin !== base.origin)
    throw new EnvironmentError(
      `refusing to send load to ${url.origin}: a request's path must stay on ${base.origin}`,
    );
  return url.toString();
}

/** The JSON plan faultline-load reads on stdin (tools/loadgen/main.go, Plan). */
export function loadgenPlan(plan: LoadPlan, seed = Date.now()): Record<string, unknown> {
  const base = new URL(plan.url);
  const requests = plan.requests ?? [
    { name: "", method: "GET", path: `${base.pathname}${base.search}`, headers: {}, weight: 1 },
  ];
  // Whole milliseconds: the driver reads them as integers.
  const stages = (
    plan.stages?.length
      ? plan.stages
      : [{ durationMs: plan.maxDurationMs, from: plan.ratePerSecond, to: plan.ratePerSecond }]
  ).map((s) => ({ ...s, durationMs: Math.max(1, Math.round(s.durationMs)) }));
  return {
    stages,
    maxDurationMs: Math.ceil(plan.maxDurationMs),
    timeoutMs: Math.ceil(plan.timeoutMs),
    keepAlive: plan.connection !== "new",
    maxConnections: plan.maxConnections ?? 0,
    http2: plan.http2 ?? true,
    caFile: plan.caFile ?? "",
    // An open model needs enough workers to keep the rate when responses slow down.
    maxWorkers: Math.max(64, Math.ceil(plan.ratePerSecond * (plan.timeoutMs / 1000) * 1.2)),
    requests: requests.map((r) => ({
      // Names are reported only for a named mix: otherwise the load's metrics are the request's.
      name: plan.requests ? r.name : "",
      method: r.method,
      url: sameOrigin(r.path, base),
      headers: Object.fromEntries(
        Object.entries({ ...r.headers, ...(r.host ? { Host: r.host } : {}) }).map(([k, v]) => [k, [v]]),
      ),
      body: Buffer.from(r.body ?? "").toString("base64"),
      weight: r.weight,
    })),
    cacheBust: plan.cacheBust ?? 0,
    seed,
  };
}

export class VegetaDriver implements LoadDriver {
  readonly name = "vegeta";

  constructor(private readonly binary: string = findLoadgen()) {}

  async version(): Promise<string> {
    try {
      const { stdout } = await execFileAsync(this.binary, ["-version"]);
      return /vegeta (\S+)/.exec(stdout)?.[1] ?? "unknown";
    } catch (error) {
      throw new EnvironmentError(
        `the load generator (vegeta's faultline-load) is not available at ${this.binary}`,
        {
          suggestion:
            "run scripts/setup.sh (it builds tools/loadgen), or set FAULTLINE_LOADGEN to a faultline-load binary",
          cause: error,
        },
      );
    }
  }

  start(plan: LoadPlan, onSample: (sample: Sample) => void): RunningLoad {
    const url = new URL(plan.url);
    // Faultline only ever sends load to this machine's loopback: the replica publishes there.
    if (!ALLOWED_HOSTS.has(url.hostname)) {
      throw new EnvironmentError(
        `refusing to send load to ${url.hostname}: only loopback targets are allowed`,
      );
    }
    const input = JSON.stringify(loadgenPlan(plan));
    const attack = spawn(this.binary, [], { stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    // A driver that cannot start, or exits before reading its plan, ends the load: no samples.
    attack.on("error", (error) => (stderr += `${error.message}\n`));
    attack.stdin.on("error", (error) => (stderr += `${error.message}\n`));
    attack.stdin.end(input);
    attack.stderr.on("data", (d: Buffer) => (stderr += d.toString()));

    let count = 0;
    const lines = createInterface({ input: attack.stdout });
    lines.on("line", (line) => {
      const sample = parseVegetaLine(line);
      if (sample) {
        count++;
        onSample(sample);
      }
    });

    const exited = (child: ChildProcess) =>
      new Promise<number | null>((resolve) => {
        if (child.exitCode !== null) resolve(child.exitCode);
        else child.once("close", (code) => resolve(code));
      });
    const linesDone = new Promise<void>((resolve) => lines.once("close", resolve));
    const finished = Promise.all([exited(attack), linesDone]).then(
      ([attackCode]): LoadSummary => ({ samples: count, exitCode: attackCode, stderr: stderr.trim() }),
    );

    let stopped = false;
    return {
      finished,
      stop: () => {
        if (stopped) return;
        stopped = true;
        // faultline-load stops attacking on SIGINT and reports the requests in flight.
        if (attack.exitCode === null) attack.kill("SIGINT");
      },
    };
  }
}
