import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { waitUntil } from "../../src/lifecycle/wait.js";
import { rawClient } from "../../src/replica/engine.js";

// Restarting the Docker engine, for the reliability harness. Only an engine that
// scripts/setup.sh started is restarted (it leaves its PID in MARKER): a developer's own
// engine, run by systemd or a desktop app, is not this test's to stop. The engine is started
// again the way setup.sh starts it.

const MARKER = "/var/run/faultline-dockerd.pid";
const ENGINE_PID = "/var/run/docker.pid";
const LOG = "/var/log/dockerd.log";

function ownEnginePid(): number {
  const why = `the engine restart trial restarts only a Docker engine that scripts/setup.sh started (as root it writes ${MARKER}); on a machine with another engine, set FAULTLINE_SKIP_ENGINE_RESTART=1 to leave the trial out`;
  if (!existsSync(MARKER) || !existsSync(ENGINE_PID)) throw new Error(`${why}; ${MARKER} is missing`);
  const pid = Number(readFileSync(ENGINE_PID, "utf8").trim());
  if (Number(readFileSync(MARKER, "utf8").trim()) !== pid)
    throw new Error(`${why}; the running engine (pid ${pid}) is not the one it started`);
  if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "dockerd")
    throw new Error(`pid ${pid} of ${ENGINE_PID} is not dockerd`);
  return pid;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Stops the engine (SIGTERM: it stops every container) and starts it again. */
export async function restartEngine(): Promise<{ stopMs: number; startMs: number }> {
  const pid = ownEnginePid();
  const t0 = Date.now();
  process.kill(pid, "SIGTERM");
  await waitUntil(
    async () =>
      alive(pid) ? { done: false, reason: `dockerd ${pid} still runs` } : { done: true, value: undefined },
    { description: "dockerd to stop", timeoutMs: 60_000, intervalMs: 100 },
  );
  const stopMs = Date.now() - t0;
  const log = openSync(LOG, "a");
  const child = spawn("dockerd", [], { detached: true, stdio: ["ignore", log, log] });
  child.unref();
  closeSync(log);
  await waitUntil(
    async () => {
      await rawClient().ping();
      return { done: true, value: undefined };
    },
    { description: "dockerd to answer again", timeoutMs: 60_000, intervalMs: 100 },
  );
  writeFileSync(MARKER, readFileSync(ENGINE_PID));
  return { stopMs, startMs: Date.now() - t0 - stopMs };
}
