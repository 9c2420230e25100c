import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EnvironmentError, ExitCode } from "../../src/errors.js";
import { TimeLimitError, withTimeLimit } from "../../src/lifecycle/time-limit.js";
import { ensureEngine, isConflict } from "../../src/replica/docker.js";
import {
  createEngine,
  type DockerEngine,
  DockerodeEngine,
  EngineTimeoutError,
  engine,
  engineAddress,
  useEngine,
} from "../../src/replica/engine.js";
import { deadlineFor } from "../../src/replica/engine-deadlines.js";
import { useSilentEngine } from "../support/silent-engine.js";

// A Docker engine that accepts connections and never answers: a unix socket of the test's own.
const silent = useSilentEngine("faultline-engine-");

/** Waits until the server has seen every connection of the client close. */
async function connectionsClosed(): Promise<void> {
  for (let i = 0; i < 100 && silent.open.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(silent.open.size).toBe(0);
}

async function timed<T>(action: Promise<T>): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  const error = await action.then(
    () => undefined,
    (e: unknown) => e,
  );
  return { error, ms: Date.now() - started };
}

describe("the engine client's deadlines, on an engine that never answers", () => {
  it("fails a call at its deadline with an EnvironmentError naming the engine and the operation", async () => {
    const hung = createEngine({ socketPath: silent.socketPath });
    const { error, ms } = await timed(hung.listContainers({ all: true }, { timeoutMs: 200 }));
    console.log(`list containers on a hung engine failed after ${ms} ms (deadline 200 ms)`);
    expect(error).toBeInstanceOf(EngineTimeoutError);
    expect(error).toBeInstanceOf(EnvironmentError);
    expect((error as EnvironmentError).exitCode).toBe(ExitCode.environment);
    expect((error as Error).message).toBe(
      `the Docker engine at unix://${silent.socketPath} did not answer "list containers" within 200ms`,
    );
    expect((error as EnvironmentError).suggestion).toMatch(/docker info/);
    expect(ms).toBeGreaterThanOrEqual(190);
    expect(ms).toBeLessThan(1000);
    await connectionsClosed();
  });

  it("names the object of an operation", async () => {
    const hung = createEngine({ socketPath: silent.socketPath });
    const { error } = await timed(hung.inspectContainer("faultline-x-edge-1", { timeoutMs: 100 }));
    expect((error as Error).message).toMatch(
      /did not answer "inspect container faultline-x-edge-1" within 100ms/,
    );
  });

  it("bounds image inspect too, which dockerode does not pass an abort signal for", async () => {
    const hung = createEngine({ socketPath: silent.socketPath });
    const before = silent.accepted;
    const { error, ms } = await timed(hung.inspectImage("faultline/lb:local", { timeoutMs: 150 }));
    expect(silent.accepted).toBe(before + 1);
    expect((error as Error).message).toMatch(/"inspect image faultline\/lb:local" within 150ms/);
    expect(ms).toBeLessThan(1000);
    await connectionsClosed();
  });

  it("ends a call at once when the caller's signal aborts", async () => {
    const hung = createEngine({ socketPath: silent.socketPath });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("stop now")), 50);
    const { error, ms } = await timed(hung.ping({ signal: controller.signal }));
    expect((error as Error).message).toBe("stop now");
    expect(ms).toBeLessThan(1000);
    await connectionsClosed();
  });

  it("refuses a call whose signal is already aborted without connecting", async () => {
    const hung = createEngine({ socketPath: silent.socketPath });
    const before = silent.accepted;
    const { error } = await timed(hung.version({ signal: AbortSignal.abort(new Error("already")) }));
    expect((error as Error).message).toBe("already");
    expect(silent.accepted).toBe(before);
  });

  it("bounds a command run in a container as one operation", async () => {
    const hung = createEngine({ socketPath: silent.socketPath });
    const { error, ms } = await timed(
      hung.exec("faultline-x-edge-1", ["nginx", "-s", "reload"], { timeoutMs: 200 }),
    );
    expect((error as Error).message).toBe(
      `the Docker engine at unix://${silent.socketPath} did not answer "run "nginx -s reload" in container faultline-x-edge-1" within 200ms`,
    );
    expect(ms).toBeLessThan(1000);
    const detached = await timed(hung.execDetached("c", ["sleep", "9"], { timeoutMs: 100 }));
    expect((detached.error as Error).message).toMatch(/"start "sleep 9" in container c" within 100ms/);
    await connectionsClosed();
  });

  it("cuts every call short when the time limit they run under runs out", async () => {
    const hung = createEngine({ socketPath: silent.socketPath });
    const { error, ms } = await timed(
      withTimeLimit("a drain", 150, async () => {
        // Each call alone would wait 10 s; the limit ends both.
        await Promise.all([hung.listContainers({ all: true }), hung.inspectContainer("x")]);
      }),
    );
    expect(error).toBeInstanceOf(TimeLimitError);
    expect((error as Error).message).toBe("a drain did not finish within its time limit of 150ms");
    expect(ms).toBeLessThan(1000);
    await connectionsClosed();
  });

  it("lets ensureEngine say that the engine does not answer", async () => {
    const hung = createEngine({ socketPath: silent.socketPath });
    const started = Date.now();
    const error = await ensureEngine(hung).catch((e: unknown) => e);
    const ms = Date.now() - started;
    console.log(`ensureEngine on a hung engine failed after ${ms} ms`);
    expect(error).toBeInstanceOf(EngineTimeoutError);
    expect((error as Error).message).toMatch(/did not answer "ping" within 5s/);
    expect(ms).toBeLessThan(6000);
  }, 10_000);

  it("says no engine is reachable when nothing listens on the socket", async () => {
    const none = createEngine({ socketPath: join(silent.dir, "absent.sock") });
    const error = await ensureEngine(none).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EnvironmentError);
    expect((error as Error).message).toMatch(
      /^no Docker engine is reachable at unix:\/\/.*absent\.sock \(.*ENOENT/,
    );
  });
});

describe("default deadlines", () => {
  it("names each operation and gives quick ones seconds, heavy ones longer", () => {
    expect(deadlineFor("GET", "/containers/json?")).toEqual({
      operation: "list containers",
      timeoutMs: 10_000,
    });
    expect(deadlineFor("GET", "/_ping")).toEqual({ operation: "ping", timeoutMs: 5_000 });
    expect(deadlineFor("POST", "/containers/abc/start?")).toEqual({
      operation: "start container abc",
      timeoutMs: 30_000,
    });
    expect(deadlineFor("POST", "/containers/abc/stop?t=10").operation).toBe("stop container abc");
    expect(deadlineFor("POST", "/containers/abc/kill?signal=SIGKILL").timeoutMs).toBe(20_000);
    expect(deadlineFor("DELETE", "/containers/abc?force=true").operation).toBe("remove container abc");
    expect(deadlineFor("POST", "/containers/create?name=x").timeoutMs).toBe(30_000);
    expect(deadlineFor("GET", "/networks?").operation).toBe("list networks");
    expect(deadlineFor("DELETE", "/networks/n1").operation).toBe("remove network n1");
    expect(deadlineFor("GET", "/images/faultline%2Flb:local/json").operation).toBe(
      "inspect image faultline/lb:local",
    );
    expect(deadlineFor("POST", "/containers/abc/wait?condition=removed").timeoutMs).toBe(60_000);
    expect(deadlineFor("PUT", "/unknown?x=1")).toEqual({ operation: "PUT /unknown", timeoutMs: 30_000 });
  });

  it("names the engine as DOCKER_HOST does, or the default socket", () => {
    expect(engineAddress({})).toBe("unix:///var/run/docker.sock");
    expect(engineAddress({ DOCKER_HOST: "tcp://10.0.0.1:2375" })).toBe("tcp://10.0.0.1:2375");
  });
});

describe("faking the engine", () => {
  it("swaps the process's engine for a fake, and back", async () => {
    const real = engine();
    expect(real).toBeInstanceOf(DockerodeEngine);
    const calls: string[] = [];
    const fake = new Proxy({} as DockerEngine, {
      get: (_, name) =>
        name === "address"
          ? "fake://engine"
          : async () => {
              calls.push(String(name));
              return [];
            },
    });
    const restore = useEngine(fake);
    try {
      expect(await engine().listContainers({ all: true })).toEqual([]);
      await ensureEngine();
      expect(calls).toEqual(["listContainers", "ping"]);
    } finally {
      restore();
    }
    expect(engine()).toBe(real);
  });

  it("knows a conflict when the engine answers 409", () => {
    expect(isConflict({ statusCode: 409 })).toBe(true);
    expect(isConflict({ statusCode: 404 })).toBe(false);
    expect(isConflict(new Error("x"))).toBe(false);
  });
});
