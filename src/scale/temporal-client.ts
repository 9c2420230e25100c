import { hostname } from "node:os";
import { Client, Connection, WorkflowFailedError, WorkflowNotFoundError } from "@temporalio/client";
import proto from "@temporalio/proto";
import { EnvironmentError, errorMessage, InvalidInputError } from "../errors.js";
import type { GameDayInput, GameDayOutcome, GameDayStatus } from "./game-day.js";
import { taskQueueFor } from "./game-day.js";
import { checkAddress } from "./temporal-cli.js";
import type { gameDay } from "./workflows.js";

// The CLI's side of Temporal: connect (with a deadline), find the workers of an engine, start
// a game day, halt it, follow it. One namespace, "default": the dev server's, and the usual.

export const NAMESPACE = "default";
const CONNECT_TIMEOUT_MS = 5000;
/** A poller seen this recently is a live worker (long polls last about a minute). */
const POLLER_FRESH_MS = 90_000;
/** How long a game day waits for its engine's worker to show up before it is refused. */
const WORKER_WAIT_MS = 5000;

export async function connectTemporal(address: string): Promise<Client> {
  checkAddress(address);
  try {
    const connection = await Connection.connect({ address, connectTimeout: CONNECT_TIMEOUT_MS });
    return new Client({ connection, namespace: NAMESPACE });
  } catch (error) {
    throw new EnvironmentError(`no Temporal server answers at ${address}`, {
      suggestion: "start one (`faultline temporal dev`), or correct --temporal / FAULTLINE_TEMPORAL",
      cause: error,
    });
  }
}

const ENGINE_NAME = /^[a-z0-9][a-z0-9-]{0,40}$/;

export function checkEngineName(engine: string): string {
  if (ENGINE_NAME.test(engine)) return engine;
  throw new InvalidInputError(`the engine name "${engine}" is not a lowercase name`, {
    suggestion: "letters, digits and dashes, at most 41: e.g. --engine local, --engine host-2",
  });
}

export interface Poller {
  identity: string;
  lastAccessMs: number;
}

/** The live workers polling an engine's activity queue. */
export async function workersOf(client: Client, engine: string, now = Date.now()): Promise<Poller[]> {
  const response = await client.workflowService.describeTaskQueue({
    namespace: NAMESPACE,
    taskQueue: { name: taskQueueFor(engine) },
    taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  return (response.pollers ?? [])
    .map((p) => ({ identity: p.identity ?? "", lastAccessMs: millis(p.lastAccessTime) }))
    .filter((p) => now - p.lastAccessMs < POLLER_FRESH_MS && !deadHere(p.identity));
}

/** The identity every Faultline worker polls with: its engine, pid and host. */
export const workerIdentity = (engine: string, pid = process.pid) =>
  `faultline ${engine} ${pid}@${hostname()}`;

/** A worker of this host whose process is gone: its polls linger on the server for a while. */
function deadHere(identity: string): boolean {
  const match = /^faultline \S+ (\d+)@(.+)$/.exec(identity);
  if (!match || match[2] !== hostname()) return false;
  try {
    process.kill(Number(match[1]), 0);
    return false;
  } catch {
    return true;
  }
}

function millis(time: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  if (!time) return 0;
  return Number(time.seconds ?? 0) * 1000 + Math.floor((time.nanos ?? 0) / 1e6);
}

/** Starts the game day's workflow, once a worker for its engine is there to take it. */
export async function startGameDay(client: Client, input: GameDayInput): Promise<void> {
  // A worker that has just started polls within moments: give it WORKER_WAIT_MS to show up.
  const deadline = Date.now() + WORKER_WAIT_MS;
  let workers = await workersOf(client, input.engine);
  while (workers.length === 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    workers = await workersOf(client, input.engine);
  }
  if (workers.length === 0)
    throw new EnvironmentError(`no worker for engine "${input.engine}" polls ${input.taskQueue}`, {
      suggestion: `start one where that engine runs: faultline worker --engine ${input.engine}`,
    });
  await client.workflow.start("gameDay", { taskQueue: input.taskQueue, workflowId: input.id, args: [input] });
}

export async function gameDayStatus(client: Client, id: string): Promise<GameDayStatus> {
  try {
    return await client.workflow.getHandle(id).query<GameDayStatus>("status");
  } catch (error) {
    throw notFound(error, id);
  }
}

export async function haltGameDay(client: Client, id: string): Promise<void> {
  try {
    await client.workflow.getHandle(id).signal("halt");
  } catch (error) {
    throw notFound(error, id);
  }
}

/**
 * Follows the game day to its outcome: `onStatus` on every change the status query shows,
 * polled every `intervalMs`. Aborting the signal stops following; the game day goes on.
 */
export async function followGameDay(
  client: Client,
  id: string,
  onStatus: (status: GameDayStatus) => void,
  signal: AbortSignal,
  intervalMs = 500,
): Promise<GameDayOutcome> {
  const handle = client.workflow.getHandle<typeof gameDay>(id);
  let last = "";
  // The long poll for the result ends with the follow (an outcome seen, a detach).
  const polling = new AbortController();
  const result = client
    .withAbortSignal(AbortSignal.any([signal, polling.signal]), () => handle.result())
    .catch((error: unknown) => {
      throw followError(error, id, signal);
    });
  result.catch(() => {});
  try {
    for (;;) {
      const status = await gameDayStatus(client, id).catch(() => undefined);
      const text = JSON.stringify(status ?? null);
      if (status && text !== last) onStatus(status);
      last = text;
      if (status?.outcome) return status.outcome;
      const settled = await Promise.race([result, wait(intervalMs, signal).then(() => undefined)]);
      if (settled) return settled;
      signal.throwIfAborted();
    }
  } finally {
    polling.abort();
  }
}

const wait = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });

function notFound(error: unknown, id: string): unknown {
  if (error instanceof WorkflowNotFoundError)
    return new InvalidInputError(`no game day "${id}" on this Temporal server`, {
      suggestion:
        "the id is the one `faultline run --temporal` printed (e.g. gd-20261203-190500-edge-latency-1a2b)",
    });
  return error;
}

/** Why following the game day's result ended: an unknown id, the workflow's failure, a lost server. */
function followError(error: unknown, id: string, signal: AbortSignal): unknown {
  if (signal.aborted || error instanceof WorkflowNotFoundError) return notFound(error, id);
  if (error instanceof WorkflowFailedError)
    return new EnvironmentError(`game day ${id} failed on Temporal: ${errorMessage(error.cause ?? error)}`, {
      suggestion:
        "the worker's output says more; `faultline recover` on its host checks that nothing is left",
    });
  return new EnvironmentError(`lost the Temporal server while following ${id}: ${errorMessage(error)}`, {
    suggestion: `the game day goes on; come back to it with \`faultline watch ${id}\``,
  });
}
