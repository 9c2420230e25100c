import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { waitUntil } from "../../src/lifecycle/wait.js";

export const CLI = fileURLToPath(new URL("../../bin/run.js", import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Spawns the real CLI (compiled) and collects its output. */
export function startCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { child: ChildProcess; result: Promise<CliResult>; output: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
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
