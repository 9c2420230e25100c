import { EnvironmentError, errorMessage } from "../errors.js";
import { type DockerEngine, EngineTimeoutError, engine } from "./engine.js";
import { popOf, type Service, type Topology } from "./topology.js";

export const LABEL_REPLICA = "faultline.replica";
export const LABEL_ROLE = "faultline.role";
export const LABEL_SERVICE = "faultline.service";
/** On a container that some action of a run created (a netfilter sidecar): the run and the action. */
export const LABEL_RUN = "faultline.run";
export const LABEL_FAULT = "faultline.fault";
/** On a multi-PoP replica's services: the PoP they belong to. */
export const LABEL_POP = "faultline.pop";
/** The role label of netfilter sidecars: containers of a fault's, not of the PoP's. */
export const SIDECAR_ROLE = "netfilter";
/** The role label of the Toxiproxy Faultline starts for link faults on an attached stack. */
export const ATTACH_TOXIPROXY_ROLE = "attach-toxiproxy";
/** The role label of the container serving a run's series on an attached stack's network. */
export const ATTACH_SERIES_ROLE = "attach-series";

/** The engine's list filter for everything labelled with a replica's name. */
export function labelFilter(replica: string): { label: string[] } {
  return { label: [`${LABEL_REPLICA}=${replica}`] };
}

/**
 * A service's Docker labels: an attached container's own (discovered), or those Faultline puts
 * on the containers it creates. Label targets match these, so they match what `docker inspect` shows.
 */
export function serviceLabels(topology: Topology, service: Service): Record<string, string> {
  if (service.labels) return service.labels;
  const pop = popOf(topology, service.name)?.name;
  return {
    [LABEL_REPLICA]: topology.replica,
    [LABEL_ROLE]: service.role,
    [LABEL_SERVICE]: service.name,
    ...(pop ? { [LABEL_POP]: pop } : {}),
  };
}

/** Fails with an EnvironmentError (exit 4) when no engine answers. */
export async function ensureEngine(client: DockerEngine = engine()): Promise<void> {
  try {
    await client.ping();
  } catch (error) {
    if (error instanceof EngineTimeoutError) throw error;
    throw new EnvironmentError(
      `no Docker engine is reachable at ${client.address} (${errorMessage(error)})`,
      {
        suggestion: "run scripts/setup.sh (on Debian as root it installs and starts one), or start Docker",
        cause: error,
      },
    );
  }
}

function statusOf(error: unknown): unknown {
  return typeof error === "object" && error !== null && "statusCode" in error ? error.statusCode : undefined;
}

export function isNotFound(error: unknown): boolean {
  return statusOf(error) === 404;
}

/** 304 from start/stop: the container was already in that state (someone else got there first). */
export function isNotModified(error: unknown): boolean {
  return statusOf(error) === 304;
}

/** 409: the object is in a state that refuses the call (a network with endpoints, a name in use). */
export function isConflict(error: unknown): boolean {
  return statusOf(error) === 409;
}

/**
 * Removes a helper container of Faultline's by name, only when it carries `role` (never a
 * container of someone else's that took the name); true when there was one. Gone already
 * is fine; a removal under way already (an auto-removed helper that exited) is waited for.
 */
export async function removeHelperContainer(name: string, role: string): Promise<boolean> {
  try {
    const info = await engine().inspectContainer(name);
    if (info.Config.Labels?.[LABEL_ROLE] !== role) return false;
    await engine().removeContainer(info.Id, { force: true });
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    if (isConflict(error)) {
      await engine()
        .waitContainer(name, "removed")
        .catch(() => {});
      return true;
    }
    throw error;
  }
}

/** 403: the engine forbids the call (a network in use, on some engine versions). */
export function isForbidden(error: unknown): boolean {
  return statusOf(error) === 403;
}
