import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { EnvironmentError, errorMessage, InvalidInputError } from "../errors.js";
import { freeLoopbackPort, loopbackPortFree } from "../lifecycle/ports.js";

// The Temporal CLI, pinned and built by `scripts/setup.sh --temporal`: its embedded dev server
// for a local scale-out engine, and its health check of a server. Faultline's in-process
// runner needs none of this.

const execFileAsync = promisify(execFile);

/** The CLI: FAULTLINE_TEMPORAL_CLI, the project's tools folder, then PATH. */
export function findTemporalCli(): string {
  const fromEnv = process.env.FAULTLINE_TEMPORAL_CLI;
  if (fromEnv) return fromEnv;
  const local = fileURLToPath(new URL("../../.tools/bin/temporal", import.meta.url));
  return existsSync(local) ? local : "temporal";
}

const missingCli = (cli: string, error: unknown) =>
  new EnvironmentError(`the Temporal CLI (${cli}) cannot be run: ${errorMessage(error)}`, {
    suggestion:
      "run `bash scripts/setup.sh --temporal` (it builds the pinned CLI), or set FAULTLINE_TEMPORAL_CLI",
    cause: error,
  });

/** host:port, on loopback or a named host; the port 1-65535. */
export function checkAddress(address: string): string {
  const match = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(address);
  if (match && Number(match[2]) >= 1 && Number(match[2]) <= 65_535) return address;
  throw new InvalidInputError(`the Temporal address "${address}" is not HOST:PORT`, {
    suggestion: "e.g. --temporal 127.0.0.1:7233 (or FAULTLINE_TEMPORAL)",
  });
}

/** Whether the server at `address` answers its health check ("SERVING"), with why not. */
export async function serverHealth(
  address: string,
  timeoutMs = 5000,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  const cli = findTemporalCli();
  try {
    const { stdout } = await execFileAsync(
      cli,
      [
        "operator",
        "cluster",
        "health",
        "--address",
        checkAddress(address),
        "--command-timeout",
        `${timeoutMs}ms`,
      ],
      { timeout: timeoutMs + 2000 },
    );
    return /SERVING/.test(stdout) ? { ok: true } : { ok: false, reason: stdout.trim() || "no answer" };
  } catch (error) {
    if (error instanceof EnvironmentError || error instanceof InvalidInputError) throw error;
    if (error instanceof Error && "code" in error && error.code === "ENOENT") throw missingCli(cli, error);
    const stderr = error instanceof Error && "stderr" in error ? String(error.stderr).trim() : "";
    // The CLI logs `... msg="failed reaching server: ..."`: the message is the reason.
    const msg = /msg="((?:[^"\\]|\\.)*)"/.exec(stderr)?.[1]?.replaceAll('\\"', '"');
    return { ok: false, reason: msg ?? (stderr.split("\n")[0] || errorMessage(error)) };
  }
}

export interface DevServer {
  address: string;
  /** Resolves with the server's exit code when it has stopped. */
  exited: Promise<number | null>;
  stop(): void;
}

/**
 * Starts `temporal server start-dev` on 127.0.0.1 (in memory, or persisted to `dbFile`) and
 * waits until it answers its health check. Its output goes to `log`.
 */
export async function startDevServer(options: {
  port: number;
  dbFile?: string | undefined;
  log: (line: string) => void;
  timeoutMs?: number;
}): Promise<DevServer> {
  const cli = findTemporalCli();
  const address = `127.0.0.1:${options.port}`;
  // A server already there would answer the health check for this one.
  if (!(await loopbackPortFree(options.port)))
    throw new EnvironmentError(`port ${options.port} on 127.0.0.1 is in use already`, {
      suggestion: "stop what holds it, or start the dev server on another one with --port",
    });
  const args = ["server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", String(options.port)];
  args.push(
    "--http-port",
    String(await freeLoopbackPort()),
    "--metrics-port",
    String(await freeLoopbackPort()),
  );
  args.push("--log-level", "warn", ...(options.dbFile ? ["--db-filename", options.dbFile] : []));
  const child = spawn(cli, args, { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once("error", (error) => reject(missingCli(cli, error)));
    child.once("exit", (code) => resolve(code));
  });
  for (const stream of [child.stdout, child.stderr])
    stream.on("data", (chunk: Buffer) => {
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) options.log(line);
    });
  const stop = () => void child.kill("SIGTERM");
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    const state = await Promise.race([exited.then((code) => ({ code })), serverHealth(address, 1000)]);
    if ("code" in state)
      throw new EnvironmentError(`the Temporal dev server exited (code ${state.code}) before it answered`, {
        suggestion: `is port ${options.port} free? try another with --port`,
      });
    if (state.ok) return { address, exited, stop };
    if (Date.now() > deadline) {
      stop();
      throw new EnvironmentError(`the Temporal dev server did not answer on ${address}: ${state.reason}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
