import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliResult, runCli } from "../support/cli.js";

// A Docker engine that accepts connections and never answers (a socket of this test's own on
// DOCKER_HOST): every command ends within its deadlines, exit 4, naming the engine, without a
// stack trace. Nothing here needs the real engine.

const REPLICA = "it-hanging";
let dir: string;
let socketPath: string;
let server: Server;
const connections = new Set<Socket>();
let accepted = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "faultline-hanging-"));
  socketPath = join(dir, "docker.sock");
  server = createServer((socket) => {
    accepted++;
    connections.add(socket);
    socket.on("data", () => {}); // read, never answer
    socket.on("close", () => connections.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
});

afterAll(async () => {
  try {
    for (const socket of connections) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function timedCli(args: string[]): Promise<CliResult & { ms: number }> {
  const started = Date.now();
  const result = await runCli(args, {
    DOCKER_HOST: `unix://${socketPath}`,
    FAULTLINE_STATE_DIR: join(dir, "state"),
    FAULTLINE_WATCHDOG: "0",
  });
  return { ...result, ms: Date.now() - started };
}

function expectCleanFailure(result: CliResult & { ms: number }, label: string): void {
  console.log(
    `[hanging engine] ${label}: exit ${result.code} after ${(result.ms / 1000).toFixed(1)} s; ${result.stderr.split("\n").find((l) => l.startsWith("error:")) ?? ""}`,
  );
  expect(result.code).toBe(4);
  expect(result.stderr).toContain(`the Docker engine at unix://${socketPath} did not answer`);
  expect(result.stderr).toMatch(/try this: /);
  // No stack trace without --debug.
  expect(result.stdout + result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
  expect(result.ms).toBeLessThan(30_000);
}

describe("an engine that accepts connections and never answers", () => {
  it("ends `run` errored (exit 4) within 30 s, naming the engine", async () => {
    const runsDir = join(dir, "runs");
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
    expect(accepted).toBeGreaterThan(0);
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
      error: { exitCode: 4, message: expect.stringContaining(`unix://${socketPath}`) },
    });
  }, 60_000);
});
