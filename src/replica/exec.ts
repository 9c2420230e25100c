import { type CallOptions, type ExecResult, engine } from "./engine.js";

export { demuxDockerStream, type ExecResult } from "./engine.js";

/** Runs a command inside a running container and waits for it (output and exit code). */
export function execIn(container: string, cmd: string[], options: CallOptions = {}): Promise<ExecResult> {
  return engine().exec(container, cmd, options);
}

/** Starts a command inside a running container and returns at once; it outlives the call. */
export function execDetached(container: string, cmd: string[], options: CallOptions = {}): Promise<void> {
  return engine().execDetached(container, cmd, options);
}
