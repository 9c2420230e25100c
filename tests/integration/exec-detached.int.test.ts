import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LABEL_REPLICA, LABEL_ROLE } from "../../src/replica/docker.js";
import { engine } from "../../src/replica/engine.js";
import { execIn } from "../../src/replica/exec.js";
import { leftovers } from "../support/replica.js";

// A process that starts a detached exec must exit by itself. It did not: the engine answers a
// detached exec start with an empty body, which docker-modem hands over as an unread stream,
// and an unread response keeps its socket and so the event loop alive. Runs with a stress or
// origin-brownout fault wrote their reports and then hung. Each child process here calls
// execDetached on a throwaway container and then has nothing left to do.

const NAME = "it-exec-detached";
const dist = new URL("../../dist/replica/", import.meta.url).href;
let container = "";

beforeAll(async () => {
  container = await engine().createContainer({
    name: `faultline-${NAME}-${process.pid}`,
    Image: "debian:bookworm-slim",
    Cmd: ["sleep", "300"],
    Labels: { [LABEL_REPLICA]: NAME, [LABEL_ROLE]: "prober" },
    HostConfig: { Init: true, NetworkMode: "none" },
  });
  await engine().startContainer(container);
});

afterAll(async () => {
  if (container) await engine().removeContainer(container, { force: true });
  expect(await leftovers(NAME)).toEqual({ containers: [], networks: [] });
});

/** Runs `code` (an ES module) in a child node process; resolves with its exit, or "hung". */
function runChild(code: string, withinMs: number): Promise<{ result: string; ms: number; output: string }> {
  const started = Date.now();
  const child: ChildProcess = spawn(process.execPath, ["--input-type=module", "-e", code], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve({ result: "hung", ms: Date.now() - started, output });
    }, withinMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ result: `exit ${code}`, ms: Date.now() - started, output });
    });
  });
}

describe("execDetached", () => {
  it("lets its process exit by itself, and the command goes on in the container", async () => {
    const code = `
      import { execDetached } from "${dist}exec.js";
      await execDetached(${JSON.stringify(container)}, ["sh", "-c", "echo $$ > /tmp/detached.pid; exec sleep 60"]);
      console.log("started");
    `;
    const child = await runChild(code, 10_000);
    console.log(`child with execDetached: ${child.result} after ${child.ms} ms`);
    expect(child.output).toContain("started");
    expect(child.result).toBe("exit 0");
    expect(child.ms).toBeLessThan(5000);
    const alive = await execIn(container, [
      "sh",
      "-c",
      'test -d "/proc/$(cat /tmp/detached.pid)" && echo alive',
    ]);
    expect(alive.output).toBe("alive");
  });

  it("shows the cause: dockerode's detached start, its answer left unread, keeps the process alive", async () => {
    const code = `
      import { rawClient } from "${dist}engine.js";
      const exec = await rawClient().getContainer(${JSON.stringify(container)}).exec({ Cmd: ["sleep", "60"] });
      await exec.start({ Detach: true });
      console.log("started");
    `;
    const child = await runChild(code, 3000);
    console.log(`child with dockerode's own detached start: ${child.result} after ${child.ms} ms`);
    expect(child.output).toContain("started");
    expect(child.result).toBe("hung");
  });
});
