import Docker from "dockerode";
import { EnvironmentError, errorMessage } from "../errors.js";

export const LABEL_REPLICA = "faultline.replica";
export const LABEL_ROLE = "faultline.role";
export const LABEL_SERVICE = "faultline.service";
/** On a container that some action of a run created (a netfilter sidecar): the run and the action. */
export const LABEL_RUN = "faultline.run";
export const LABEL_FAULT = "faultline.fault";
/** The role label of netfilter sidecars: containers of a fault's, not of the PoP's. */
export const SIDECAR_ROLE = "netfilter";

let shared: Docker | undefined;

/** One Docker client per process, talking to DOCKER_HOST or the local socket. */
export function docker(): Docker {
  shared ??= new Docker();
  return shared;
}

/** Fails with an EnvironmentError (exit 4) when no engine answers. */
export async function ensureEngine(client: Docker = docker()): Promise<void> {
  try {
    await client.ping();
  } catch (error) {
    const where = process.env.DOCKER_HOST ?? "/var/run/docker.sock";
    throw new EnvironmentError(`no Docker engine is reachable at ${where} (${errorMessage(error)})`, {
      suggestion: "run scripts/setup.sh (on Debian as root it installs and starts one), or start Docker",
      cause: error,
    });
  }
}

export function isNotFound(error: unknown): boolean {
  return typeof error === "object" && error !== null && "statusCode" in error && error.statusCode === 404;
}

/** 304 from start/stop: the container was already in that state (someone else got there first). */
export function isNotModified(error: unknown): boolean {
  return typeof error === "object" && error !== null && "statusCode" in error && error.statusCode === 304;
}

export function isConflict(error: unknown): boolean {
  return typeof error === "object" && error !== null && "statusCode" in error && error.statusCode === 409;
}
