import { AsyncLocalStorage } from "node:async_hooks";
import type DockerModem from "docker-modem";
import type Docker from "dockerode";
import { EnvironmentError } from "../errors.js";
import { abortReason, currentLimit, formatSeconds } from "../lifecycle/time-limit.js";

// Deadlines at the transport: every request the process's one dockerode client sends to the
// engine goes through `guardDial`, which gives it an abort signal made of its deadline, the
// caller's signal and the time limit the caller runs under (src/lifecycle/time-limit.ts).
// Guarding the transport rather than each call site means no call can forget its deadline,
// including the calls dockerode does not forward an abort signal for (image and network
// inspect ignore the `abortSignal` option: checked on the real engine).

/** The engine did not answer an operation within its deadline. */
export class EngineTimeoutError extends EnvironmentError {
  constructor(
    readonly engine: string,
    readonly operation: string,
    readonly timeoutMs: number,
  ) {
    super(`the Docker engine at ${engine} did not answer "${operation}" within ${formatSeconds(timeoutMs)}`, {
      suggestion: `check that the engine answers (\`docker info\`) and restart it if it hangs; DOCKER_HOST chooses the engine (now ${engine})`,
    });
  }
}

/** Where the engine is, as the user would name it: DOCKER_HOST, or the default socket. */
export function engineAddress(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_HOST || "unix:///var/run/docker.sock";
}

export interface Deadline {
  /** What the user reads in a deadline error, e.g. `inspect container faultline-default-lb`. */
  operation: string;
  timeoutMs: number;
}

/** Default deadlines, by kind of operation. */
export const DEADLINES = {
  /** Answers the engine gives from memory: ping, version, lists, inspects, logs. */
  quick: 10_000,
  ping: 5_000,
  /** State changes of one container that need no new resources: kill, pause, unpause. */
  change: 20_000,
  /** Work that touches the disk or the network stack: create, start, remove, networks. */
  heavy: 30_000,
  /** Waiting for a container to exit, or for a command run in a container to complete. */
  wait: 60_000,
} as const;

const ROUTES: [method: string, pattern: RegExp, verb: string, timeoutMs: number][] = [
  ["GET", /^\/_ping/, "ping", DEADLINES.ping],
  ["GET", /^\/version/, "version", DEADLINES.ping],
  ["GET", /^\/containers\/json/, "list containers", DEADLINES.quick],
  ["GET", /^\/images\/json/, "list images", DEADLINES.quick],
  ["GET", /^\/networks\/?(?:\?|$)/, "list networks", DEADLINES.quick],
  ["POST", /^\/networks\/create/, "create network", DEADLINES.heavy],
  ["DELETE", /^\/networks\/([^/?]+)/, "remove network", DEADLINES.heavy],
  ["GET", /^\/networks\/([^/?]+)/, "inspect network", DEADLINES.quick],
  ["POST", /^\/containers\/create/, "create container", DEADLINES.heavy],
  ["GET", /^\/containers\/([^/?]+)\/json/, "inspect container", DEADLINES.quick],
  ["GET", /^\/containers\/([^/?]+)\/logs/, "read the logs of container", DEADLINES.quick],
  ["POST", /^\/containers\/([^/?]+)\/wait/, "wait for container", DEADLINES.wait],
  ["POST", /^\/containers\/([^/?]+)\/exec/, "create an exec in container", DEADLINES.quick],
  // A start sets up the container's network namespace and ports: dozens at once (a 50-edge
  // replica) take seconds each on two cores.
  ["POST", /^\/containers\/([^/?]+)\/(start|stop|restart)/, "$2 container", DEADLINES.heavy],
  ["POST", /^\/containers\/([^/?]+)\/(kill|pause|unpause)/, "$2 container", DEADLINES.change],
  ["DELETE", /^\/containers\/([^/?]+)/, "remove container", DEADLINES.heavy],
  ["POST", /^\/exec\/([^/?]+)\/start/, "start exec", DEADLINES.quick],
  ["GET", /^\/exec\/([^/?]+)\/json/, "inspect exec", DEADLINES.quick],
  ["GET", /^\/images\/(.+)\/json/, "inspect image", DEADLINES.quick],
  ["POST", /^\/build/, "build image", 15 * 60_000],
];

/** The operation a request stands for, and its default deadline. */
export function deadlineFor(method: string | undefined, path: string): Deadline {
  const verb = (method ?? "GET").toUpperCase();
  for (const [m, pattern, name, timeoutMs] of ROUTES) {
    const match = m === verb ? pattern.exec(path) : null;
    if (!match) continue;
    const operation = name.replace("$2", match[2] ?? "");
    const subject = match[1] ? ` ${decodeURIComponent(match[1])}` : "";
    return { operation: `${operation}${subject}`, timeoutMs };
  }
  return { operation: `${verb} ${path.replace(/\?.*$/, "")}`, timeoutMs: DEADLINES.heavy };
}

export interface CallContext {
  operation?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** What a typed engine method tells the transport about the requests it makes. */
export const callContext = new AsyncLocalStorage<CallContext>();

type Dial = DockerModem["dial"];
type DialCallback = NonNullable<Parameters<Dial>[1]>;

/** Wraps a modem's dial so that each request carries its deadline and the caller's signals. */
export function guardDial(modem: DockerModem, engine: string): void {
  const dial: Dial = modem.dial.bind(modem);
  modem.dial = (options, callback) => {
    const context = callContext.getStore() ?? {};
    const route = deadlineFor(options.method, options.path);
    const operation = context.operation ?? route.operation;
    const timeoutMs = context.timeoutMs ?? route.timeoutMs;
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new EngineTimeoutError(engine, operation, timeoutMs)),
      timeoutMs,
    );
    // Kept referenced, as the operation's (engine.ts): cleared once the dial calls back.
    const signals = [deadline.signal, options.abortSignal, context.signal, currentLimit()];
    const signal = AbortSignal.any(signals.filter((s): s is AbortSignal => s !== undefined));
    const done: DialCallback = (error, result) => {
      clearTimeout(timer);
      if (error && signal.aborted) callback?.(abortReason(signal), null);
      else callback?.(error, result);
    };
    if (signal.aborted) {
      queueMicrotask(() => done(abortReason(signal), null));
      return;
    }
    dial({ ...options, abortSignal: signal }, done);
  };
}

/** A dockerode client whose every request is guarded. */
export function guardedClient(client: Docker, engine: string): Docker {
  guardDial(client.modem, engine);
  return client;
}
