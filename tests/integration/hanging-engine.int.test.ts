import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type CliResult, runCli } from "../support/cli.js";
import { useSilentEngine } from "../support/silent-engine.js";

// A Docker engine that accepts connections and never answers (a socket of this test's own on
// DOCKER_HOST): every command ends within its deadlines, exit 4, naming the engine, without a
// stack trace. Nothing here needs the real engine.

const REPLICA = "it-hanging";
const silent = useSilentEngine("faultline-hanging-");

async function timedCli(args: string[]): Promise<CliResult & { ms: number }> {
  const started = Date.now();
  const result = await runCli(args, {
    DOCKER_HOST: `unix://${silent.socketPath}`,
    FAULTLINE_STATE_DIR: join(silent.dir, "state"),
    FAULTLINE_WATCHDOG: "0",
  });
  return { ...result, ms: Date.now() - started };
}

function expectCleanFailure(result: CliResult & { ms: number }, label: string): void {
  console.log(
    `[hanging engine] ${label}: exit ${result.code} after ${(result.ms / 1000).toFixed(1)} s; ${result.stderr.split("\n").find((l) => l.startsWith("error:")) ?? ""}`,
  );
  expect(result.code).toBe(4);
  expect(result.stderr).toContain(`the Docker engine at unix://${silent.socketPath} did not answer`);
  expect(result.stderr).toMatch(/try this: /);
  // No stack trace without --debug.
  expect(result.stdout + result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
  expect(result.ms).toBeLessThan(30_000);
}

describe("an engine that accepts connections and never answers", () => {
  it("ends `run` errored (exit 4) within 30 s, naming the engine", async () => {
    const runsDir = join(silent.dir, "runs");
    const result = await timedCli([
      "run",
      "experiments/edge-latency.yaml",
      "--replica",
      REPLICA,
      "--runs-dir",
      runsDir,
      "--no-history",
      "--progress",
      "plain",
    ]);
    expectCleanFailure(result, "run experiments/edge-latency.yaml");
    expect(silent.accepted).toBeGreaterThan(0);
  }, 60_000);

  it("fails `replica status` with a clear message within its deadline", async () => {
    const result = await timedCli(["replica", "status", "--replica", REPLICA]);
    expectCleanFailure(result, "replica status");
  }, 60_000);

  it("fails `recover` with a clear message within its deadline", async () => {
    const result = await timedCli(["recover", "--replica", REPLICA]);
    expectCleanFailure(result, "recover");
  }, 60_000);

  it("answers `replica status --json` with the error as JSON", async () => {
    const result = await timedCli(["replica", "status", "--replica", REPLICA, "--json"]);
    console.log(
      `[hanging engine] replica status --json: exit ${result.code} after ${(result.ms / 1000).toFixed(1)} s`,
    );
    expect(result.code).toBe(4);
    const parsed: unknown = JSON.parse(result.stdout);
    expect(parsed).toMatchObject({
      error: { exitCode: 4, message: expect.stringContaining(`unix://${silent.socketPath}`) },
    });
  }, 60_000);
});
