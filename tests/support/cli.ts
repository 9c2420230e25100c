import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach } from "vitest";
import { waitUntil } from "../../src/lifecycle/wait.js";

export const CLI = fileURLToPath(new URL("../../bin/run.js", import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

// A test that fails while a CLI it started still runs must not leave that run holding the
// replica's lock (and its faults) for the next test: after each test, a CLI still running is
// interrupted as Ctrl-C would (it reverts and exits), and killed if it has not ended in 30 s.
const running = new Set<ChildProcess>();
afterEach(async () => {
  await Promise.all([...running].map((child) => interrupt(child)));
});

async function interrupt(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  child.kill("SIGINT");
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  await closed;
  clearTimeout(timer);
}

/** Spawns the real CLI (compiled) and collects its output. */
export function startCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  options: { outlivesTest?: boolean } = {},
): { child: ChildProcess; result: Promise<CliResult>; output: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  // A CLI a file's beforeAll starts for all its tests (a worker) is that file's to stop.
  if (!options.outlivesTest) running.add(child);
  child.once("close", () => running.delete(child));
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const result = new Promise<CliResult>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, result, output: () => stdout + stderr };
}

/** Waits until the CLI has printed `text` (stdout or stderr). */
export async function waitForOutput(
  cli: { output: () => string },
  text: string,
  timeoutMs = 60_000,
): Promise<void> {
  await waitUntil(
    async () =>
      cli.output().includes(text) ? { done: true, value: undefined } : { done: false, reason: cli.output() },
    { description: `the CLI to print "${text}"`, timeoutMs },
  );
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return startCli(args, env).result;
}
