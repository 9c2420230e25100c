import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import { DefaultLogger, NativeConnection, Runtime, Worker } from "@temporalio/worker";
import { EnvironmentError } from "../errors.js";
import { createActivities } from "./activities.js";
import { ownQueueOf, taskQueueFor } from "./game-day.js";
import { checkEngineName, connectTemporal, NAMESPACE, workerIdentity, workersOf } from "./temporal-client.js";

// `faultline worker`: the Temporal worker of one Docker engine (the one DOCKER_HOST names, or
// the default socket), on the engine's task queue. It runs the game days' suites and applies
// their faults; one worker per engine, so two never hold the same replica's faults.

export interface WorkerOptions {
  address: string;
  engine: string;
  signal: AbortSignal;
  onProgress?: (message: string) => void;
}

/** Runs the worker until the signal is aborted; refuses when the engine has a live worker. */
export async function runWorker(options: WorkerOptions): Promise<void> {
  const engine = checkEngineName(options.engine);
  const client = await connectTemporal(options.address);
  try {
    const others = await workersOf(client, engine);
    if (others.length > 0)
      throw new EnvironmentError(
        `engine "${engine}" has a worker already (${others.map((p) => p.identity).join(", ")})`,
        { suggestion: "one worker per Docker engine: stop that one first, or name this engine differently" },
      );
  } finally {
    await client.connection.close();
  }
  Runtime.install({ logger: new DefaultLogger("WARN"), shutdownSignals: [] });
  const connection = await NativeConnection.connect({ address: options.address });
  try {
    const ownQueue = ownQueueOf(engine, process.pid, hostname());
    const activities = createActivities({
      engine,
      ownQueue,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    const common = {
      connection,
      namespace: NAMESPACE,
      identity: workerIdentity(engine),
      activities,
      // On Ctrl-C the suites in hand are cancelled: each reverts its faults and ends interrupted.
      shutdownGraceTime: "1s",
      shutdownForceTime: "60s",
    } as const;
    const workers = [
      // The engine's queue: the workflows, the claim, closing a lost worker's run.
      await Worker.create({
        ...common,
        taskQueue: taskQueueFor(engine),
        workflowsPath: fileURLToPath(new URL("./workflows.js", import.meta.url)),
      }),
      // This process's own: the activities of the game days it claimed.
      await Worker.create({ ...common, taskQueue: ownQueue }),
    ];
    await runUntilAborted(workers, options, engine);
  } finally {
    await connection.close();
  }
}

async function runUntilAborted(workers: Worker[], options: WorkerOptions, engine: string): Promise<void> {
  const stop = () => {
    for (const worker of workers) worker.shutdown();
  };
  if (options.signal.aborted) return;
  options.signal.addEventListener("abort", stop, { once: true });
  options.onProgress?.(`worker for engine ${engine} polls ${taskQueueFor(engine)} on ${options.address}`);
  try {
    await Promise.all(workers.map((worker) => worker.run()));
  } finally {
    options.signal.removeEventListener("abort", stop);
  }
}
