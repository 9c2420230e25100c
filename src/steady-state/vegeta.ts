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

// One line of `vegeta encode --to json`; only the fields Faultline reads.
const resultSchema = z.object({
  timestamp: z.string(),
  latency: z.number(),
  code: z.number(),
  error: z.string(),
  headers: z.record(z.string(), z.array(z.string())).nullish(),
});

const ALLOWED_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** Finds the vegeta binary: FAULTLINE_VEGETA, the project's tools folder, then PATH. */
export function findVegeta(): string {
  const fromEnv = process.env.FAULTLINE_VEGETA;
  if (fromEnv) return fromEnv;
  const local = fileURLToPath(new URL("../../.tools/bin/vegeta", import.meta.url));
  if (existsSync(local)) return local;
  return "vegeta";
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
  const edge = r.headers?.["X-Edge"]?.[0];
  return {
    startedAt: Date.parse(r.timestamp),
    latencyMs: r.latency / 1e6,
    status: r.code,
    error: r.error,
    edge,
  };
}

/** `vegeta attack`'s arguments for a plan. */
export function attackArgs(plan: LoadPlan): string[] {
  return [
    "attack",
    `-rate=${Math.round(plan.ratePerSecond * 1000)}/1000s`,
    `-duration=${Math.ceil(plan.maxDurationMs)}ms`,
    `-timeout=${Math.ceil(plan.timeoutMs)}ms`,
    "-max-body=0",
    `-keepalive=${plan.connection !== "new"}`,
    ...(plan.caFile ? [`-root-certs=${plan.caFile}`] : []),
    // An open model needs enough workers to keep the rate when responses slow down.
    `-max-workers=${Math.max(64, Math.ceil(plan.ratePerSecond * (plan.timeoutMs / 1000) * 1.2))}`,
  ];
}

export class VegetaDriver implements LoadDriver {
  readonly name = "vegeta";

  constructor(private readonly binary: string = findVegeta()) {}

  async version(): Promise<string> {
    try {
      const { stdout } = await execFileAsync(this.binary, ["-version"]);
      return /Version:\s*(\S+)/.exec(stdout)?.[1] ?? "unknown";
    } catch (error) {
      throw new EnvironmentError(`the load generator (vegeta) is not available at ${this.binary}`, {
        suggestion: "run scripts/setup.sh, or set FAULTLINE_VEGETA to a vegeta binary",
        cause: error,
      });
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
    const attack = spawn(this.binary, attackArgs(plan), { stdio: ["pipe", "pipe", "pipe"] });
    const encode = spawn(this.binary, ["encode", "--to", "json"], { stdio: ["pipe", "pipe", "pipe"] });
    attack.stdin.end(`GET ${url.toString()}\n`);
    attack.stdout.pipe(encode.stdin);

    let stderr = "";
    const collect = (child: ChildProcess) =>
      child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    collect(attack);
    collect(encode);

    let count = 0;
    const lines = createInterface({ input: encode.stdout });
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
    const finished = Promise.all([exited(attack), exited(encode), linesDone]).then(
      ([attackCode]): LoadSummary => ({ samples: count, exitCode: attackCode, stderr: stderr.trim() }),
    );

    let stopped = false;
    return {
      finished,
      stop: () => {
        if (stopped) return;
        stopped = true;
        // vegeta stops attacking on SIGINT and flushes the results of requests in flight.
        if (attack.exitCode === null) attack.kill("SIGINT");
      },
    };
  }
}
