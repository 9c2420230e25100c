import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { Readable } from "node:stream";
import Docker from "dockerode";
import { abortReason, rejectOnAbort } from "../lifecycle/time-limit.js";
import {
  type CallContext,
  callContext,
  DEADLINES,
  EngineTimeoutError,
  engineAddress,
  guardedClient,
} from "./engine-deadlines.js";
import { tarOneFile } from "./tar.js";

export { DEADLINES, EngineTimeoutError, engineAddress } from "./engine-deadlines.js";

// The one Docker client of the process. Every engine call goes through `engine()`: each has a
// deadline (a default per kind of operation, or `timeoutMs`), honours `signal`, and is cut
// short by the time limit its caller runs under (withTimeLimit). A deadline that passes is an
// EngineTimeoutError (exit 4) naming the engine and the operation. Unit tests swap in a fake
// with `useEngine`.

export interface CallOptions {
  /** Aborting it ends the call at once, with the signal's reason. */
  signal?: AbortSignal;
  /** This call's deadline instead of the operation's default. */
  timeoutMs?: number;
}

export interface ExecResult {
  exitCode: number;
  output: string;
}

export interface ListQuery {
  all?: boolean;
  filters?: Record<string, string[]>;
}

export interface DockerEngine {
  /** Where the engine is (DOCKER_HOST, or the default socket), for messages. */
  readonly address: string;
  ping(options?: CallOptions): Promise<void>;
  version(options?: CallOptions): Promise<Docker.DockerVersion>;
  listContainers(query: ListQuery, options?: CallOptions): Promise<Docker.ContainerInfo[]>;
  listImages(options?: CallOptions): Promise<Docker.ImageInfo[]>;
  inspectImage(name: string, options?: CallOptions): Promise<Docker.ImageInspectInfo>;
  listNetworks(query: ListQuery, options?: CallOptions): Promise<Docker.NetworkInspectInfo[]>;
  /** Returns the new network's id. */
  createNetwork(spec: Docker.NetworkCreateOptions, options?: CallOptions): Promise<string>;
  removeNetwork(id: string, options?: CallOptions): Promise<void>;
  /** Returns the new container's id. */
  createContainer(spec: Docker.ContainerCreateOptions, options?: CallOptions): Promise<string>;
  inspectContainer(id: string, options?: CallOptions): Promise<Docker.ContainerInspectInfo>;
  startContainer(id: string, options?: CallOptions): Promise<void>;
  /** Stops with SIGTERM, then SIGKILL after `graceSeconds` (default 10). */
  stopContainer(id: string, graceSeconds?: number, options?: CallOptions): Promise<void>;
  restartContainer(id: string, graceSeconds?: number, options?: CallOptions): Promise<void>;
  killContainer(id: string, signal?: string, options?: CallOptions): Promise<void>;
  pauseContainer(id: string, options?: CallOptions): Promise<void>;
  unpauseContainer(id: string, options?: CallOptions): Promise<void>;
  removeContainer(
    id: string,
    removal?: { force?: boolean; volumes?: boolean },
    options?: CallOptions,
  ): Promise<void>;
  /** Waits until the container reaches `condition` (default not-running); returns its exit code. */
  waitContainer(
    id: string,
    condition?: "not-running" | "next-exit" | "removed",
    options?: CallOptions,
  ): Promise<number>;
  /** Stdout and stderr of a container (no TTY), as text. */
  containerLogs(id: string, logs?: { tail?: number }, options?: CallOptions): Promise<string>;
  /** Runs a command in a running container and waits for it (default deadline 60 s). */
  exec(container: string, cmd: string[], options?: CallOptions): Promise<ExecResult>;
  /** Starts a command in a running container and returns once the engine has started it. */
  execDetached(container: string, cmd: string[], options?: CallOptions): Promise<void>;
  /** Writes a file into a (created, not necessarily started) container. */
  putFile(container: string, path: string, content: string, options?: CallOptions): Promise<void>;
  /**
   * Builds `tag` from a folder (every file in it is the context). Default deadline 15 minutes;
   * a failed build throws BuildError with its last output lines.
   */
  buildImage(build: BuildSpec, options?: CallOptions): Promise<void>;
}

export interface BuildSpec {
  context: string;
  /** Relative to the context. */
  dockerfile: string;
  tag: string;
  labels?: Record<string, string>;
}

/** A build that failed: the engine's message and the build's last output lines. */
export class BuildError extends Error {
  constructor(
    message: string,
    readonly lastLines: string,
  ) {
    super(message);
  }
}

/** The deadline of a build, the whole of it (the output is read to its end). */
export const BUILD_DEADLINE_MS = 15 * 60_000;

/** Docker multiplexes stdout/stderr with 8-byte frame headers when no TTY is attached. */
export function demuxDockerStream(buffer: Buffer): string {
  const out: string[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    out.push(buffer.subarray(offset + 8, offset + 8 + size).toString("utf8"));
    offset += 8 + size;
  }
  return out.join("");
}

function commandLine(cmd: readonly string[]): string {
  const line = cmd.join(" ");
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
}

/** Reads a stream to its end, racing `signal`: on abort the stream is destroyed. */
async function readAll(stream: Readable, signal: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const aborted = rejectOnAbort(signal);
  const onAbort = () => stream.destroy();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    await Promise.race([
      new Promise<void>((resolve, reject) => {
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.once("end", resolve);
        stream.once("close", resolve);
        stream.once("error", reject);
      }),
      aborted.promise,
    ]);
  } finally {
    aborted.dispose();
    signal.removeEventListener("abort", onAbort);
  }
  return Buffer.concat(chunks);
}

/** The engine behind dockerode, every request guarded by its deadline. */
export class DockerodeEngine implements DockerEngine {
  /** `client` must be guarded already (see createEngine). */
  constructor(
    readonly client: Docker,
    readonly address: string,
  ) {}

  /** Runs the requests `work` makes as one operation: one deadline, one signal, one name. */
  private async operation<T>(
    context: { operation?: string; timeoutMs: number },
    options: CallOptions,
    work: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const timeoutMs = options.timeoutMs ?? context.timeoutMs;
    const deadline = new AbortController();
    const operation = context.operation;
    const timer = setTimeout(
      () => deadline.abort(new EngineTimeoutError(this.address, operation ?? "a call", timeoutMs)),
      timeoutMs,
    );
    // Kept referenced: a call that neither answers nor holds a socket (seen once right after an
    // engine restart: the process exited 13, a top-level await unsettled) must end in its
    // deadline's error, not in an empty event loop. It is cleared as soon as the call settles.
    const signal = options.signal ? AbortSignal.any([deadline.signal, options.signal]) : deadline.signal;
    const scope: CallContext = { timeoutMs, signal, ...(operation ? { operation } : {}) };
    try {
      signal.throwIfAborted();
      return await callContext.run(scope, () => work(signal));
    } catch (error) {
      throw signal.aborted ? abortReason(signal) : error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** One request with the transport's default deadline for it (or `options.timeoutMs`). */
  private call<T>(options: CallOptions, work: () => Promise<T>): Promise<T> {
    const scope: CallContext = {
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.signal ? { signal: options.signal } : {}),
    };
    return callContext.run(scope, work);
  }

  async ping(options: CallOptions = {}): Promise<void> {
    await this.call(options, () => this.client.ping());
  }

  version(options: CallOptions = {}): Promise<Docker.DockerVersion> {
    return this.call(options, () => this.client.version());
  }

  listContainers(query: ListQuery, options: CallOptions = {}): Promise<Docker.ContainerInfo[]> {
    return this.call(options, () => this.client.listContainers(query));
  }

  listImages(options: CallOptions = {}): Promise<Docker.ImageInfo[]> {
    return this.call(options, () => this.client.listImages());
  }

  inspectImage(name: string, options: CallOptions = {}): Promise<Docker.ImageInspectInfo> {
    return this.call(options, () => this.client.getImage(name).inspect());
  }

  listNetworks(query: ListQuery, options: CallOptions = {}): Promise<Docker.NetworkInspectInfo[]> {
    return this.call(options, () => this.client.listNetworks(query));
  }

  async createNetwork(spec: Docker.NetworkCreateOptions, options: CallOptions = {}): Promise<string> {
    return (await this.call(options, () => this.client.createNetwork(spec))).id;
  }

  async removeNetwork(id: string, options: CallOptions = {}): Promise<void> {
    await this.call(options, () => this.client.getNetwork(id).remove());
  }

  async createContainer(spec: Docker.ContainerCreateOptions, options: CallOptions = {}): Promise<string> {
    return (await this.call(options, () => this.client.createContainer(spec))).id;
  }

  inspectContainer(id: string, options: CallOptions = {}): Promise<Docker.ContainerInspectInfo> {
    return this.call(options, () => this.client.getContainer(id).inspect());
  }

  async startContainer(id: string, options: CallOptions = {}): Promise<void> {
    await this.call(options, () => this.client.getContainer(id).start());
  }

  async stopContainer(id: string, graceSeconds = 10, options: CallOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? graceSeconds * 1000 + DEADLINES.change;
    await this.call({ ...options, timeoutMs }, () => this.client.getContainer(id).stop({ t: graceSeconds }));
  }

  async restartContainer(id: string, graceSeconds = 10, options: CallOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? graceSeconds * 1000 + DEADLINES.heavy;
    await this.call({ ...options, timeoutMs }, () =>
      this.client.getContainer(id).restart({ t: graceSeconds }),
    );
  }

  async killContainer(id: string, signal = "SIGKILL", options: CallOptions = {}): Promise<void> {
    await this.call(options, () => this.client.getContainer(id).kill({ signal }));
  }

  async pauseContainer(id: string, options: CallOptions = {}): Promise<void> {
    await this.call(options, () => this.client.getContainer(id).pause());
  }

  async unpauseContainer(id: string, options: CallOptions = {}): Promise<void> {
    await this.call(options, () => this.client.getContainer(id).unpause());
  }

  async removeContainer(
    id: string,
    removal: { force?: boolean; volumes?: boolean } = {},
    options: CallOptions = {},
  ): Promise<void> {
    const query = { force: removal.force ?? false, v: removal.volumes ?? false };
    await this.call(options, () => this.client.getContainer(id).remove(query));
  }

  async waitContainer(
    id: string,
    condition: "not-running" | "next-exit" | "removed" = "not-running",
    options: CallOptions = {},
  ): Promise<number> {
    const result: unknown = await this.call(options, () => this.client.getContainer(id).wait({ condition }));
    const code =
      typeof result === "object" && result !== null && "StatusCode" in result ? result.StatusCode : -1;
    return typeof code === "number" ? code : -1;
  }

  async containerLogs(id: string, logs: { tail?: number } = {}, options: CallOptions = {}): Promise<string> {
    const query = { stdout: true, stderr: true, follow: false as const, ...logs };
    const buffer = await this.call(options, () => this.client.getContainer(id).logs(query));
    return demuxDockerStream(buffer);
  }

  exec(container: string, cmd: string[], options: CallOptions = {}): Promise<ExecResult> {
    const operation = `run "${commandLine(cmd)}" in container ${container}`;
    return this.operation({ operation, timeoutMs: DEADLINES.wait }, options, async (signal) => {
      const exec = await this.client
        .getContainer(container)
        .exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
      const stream = await exec.start({ hijack: true, stdin: false });
      const output = await readAll(stream, signal);
      const info = await exec.inspect();
      return { exitCode: info.ExitCode ?? -1, output: demuxDockerStream(output).trim() };
    });
  }

  execDetached(container: string, cmd: string[], options: CallOptions = {}): Promise<void> {
    const operation = `start "${commandLine(cmd)}" in container ${container}`;
    return this.operation({ operation, timeoutMs: DEADLINES.quick }, options, async (signal) => {
      const exec = await this.client.getContainer(container).exec({ Cmd: cmd });
      const response: unknown = await exec.start({ Detach: true });
      // The engine answers a detached start with an empty body that docker-modem hands over
      // unread, as a stream: an unread response keeps its socket, and the process, alive for
      // good. Reading it to its end releases the socket.
      if (response instanceof Readable) {
        response.resume();
        await readAll(response, signal);
      }
    });
  }

  async putFile(container: string, path: string, content: string, options: CallOptions = {}): Promise<void> {
    const archive = await tarOneFile(path, content);
    await this.call(options, () => this.client.getContainer(container).putArchive(archive, { path: "/" }));
  }

  buildImage(build: BuildSpec, options: CallOptions = {}): Promise<void> {
    const operation = `build image ${build.tag} from ${build.context}`;
    return this.operation({ operation, timeoutMs: BUILD_DEADLINE_MS }, options, async (signal) => {
      const stream = await this.client.buildImage(
        { context: build.context, src: filesUnder(build.context) },
        {
          t: build.tag,
          dockerfile: build.dockerfile,
          forcerm: true,
          labels: build.labels ?? {},
          abortSignal: signal,
        },
      );
      const outcome = buildOutcome((await readAll(stream as Readable, signal)).toString("utf8"));
      if (outcome.error) throw new BuildError(outcome.error, outcome.text);
    });
  }
}

/** Every file under `dir`, relative to it: a build's context. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)));
}

/** The build's output (JSON lines): its text, and the error it ended with, if any. */
function buildOutcome(output: string): { text: string; error?: string } {
  const lines: string[] = [];
  let error: string | undefined;
  for (const line of output.split("\n")) {
    if (!line.trim()) continue;
    try {
      const event = JSON.parse(line) as { stream?: string; error?: string };
      if (event.stream) lines.push(...event.stream.split("\n").filter((l) => l.trim()));
      if (event.error) error = event.error;
    } catch {
      lines.push(line);
    }
  }
  return { text: lines.slice(-8).join("\n"), ...(error ? { error } : {}) };
}

/** A new engine client: the default engine (DOCKER_HOST), or the one on a given socket. */
export function createEngine(options: { socketPath?: string } = {}): DockerodeEngine {
  const { socketPath } = options;
  const address = socketPath ? `unix://${socketPath}` : engineAddress();
  const client = guardedClient(socketPath ? new Docker({ socketPath }) : new Docker(), address);
  return new DockerodeEngine(client, address);
}

let processEngine: DockerodeEngine | undefined;
let shared: DockerEngine | undefined;

/** The process's one engine client. */
export function engine(): DockerEngine {
  processEngine ??= createEngine();
  shared ??= processEngine;
  return shared;
}

/**
 * The raw dockerode client behind the process's engine: its requests still carry deadlines
 * (guarded at the transport), with dockerode's own types and no operation names.
 */
export function rawClient(): Docker {
  processEngine ??= createEngine();
  return processEngine.client;
}

/** Replaces the process's engine (unit tests: a fake); returns a function that restores it. */
export function useEngine(replacement: DockerEngine): () => void {
  const previous = shared;
  shared = replacement;
  return () => {
    shared = previous;
  };
}
