import { EnvironmentError } from "../errors.js";
import { waitUntil } from "../lifecycle/wait.js";
import { deadManSeconds } from "../lifecycle/watchdog.js";
import {
  ATTACH_TOXIPROXY_ROLE,
  isNotFound,
  LABEL_REPLICA,
  LABEL_ROLE,
  LABEL_SERVICE,
  removeHelperContainer,
} from "./docker.js";
import { engine } from "./engine.js";
import { imageFor, TOXIPROXY_API_PORT, type Topology } from "./topology.js";

// The Toxiproxy Faultline starts for link faults on an attached stack: its own container
// (`faultline-<name>-toxiproxy`, labelled faultline.replica=<name>, so attach discovery
// ignores it and `recover` finds it) on the stack's network, its API published on 127.0.0.1
// only. It never outlives Faultline: a shell around toxiproxy-server exits at a deadline
// written in the container (each new fault moves it later, never earlier) and the container
// is removed when it exits; the revert of the last fault on it removes it sooner, and
// `recover` sweeps it. The image is the replica's (docker/toxiproxy, which has a shell).

export interface ToxiproxyHost {
  /** Container id. */
  id: string;
  /** The API on the host: http://127.0.0.1:PORT. */
  api: string;
  /** Its address on the stack's network, where redirected connections go. */
  ip: string;
}

export const attachToxiproxyName = (replica: string) => `faultline-${replica}-toxiproxy`;

const DEADLINE_FILE = "/tmp/faultline-deadline";

/** sh -c SCRIPT faultline-toxiproxy DEADLINE (epoch seconds). */
const SCRIPT = [
  `echo "$1" > ${DEADLINE_FILE}`,
  `/usr/local/bin/toxiproxy-server -host=0.0.0.0 -port=${TOXIPROXY_API_PORT} & pid=$!`,
  `trap 'kill $pid 2>/dev/null; exit 0' TERM INT`,
  `while kill -0 $pid 2>/dev/null; do`,
  `  if [ "$(date +%s)" -ge "$(cat ${DEADLINE_FILE})" ]; then`,
  `    echo "faultline-toxiproxy: deadline passed"; kill $pid; wait $pid; exit 0`,
  `  fi`,
  `  sleep 1`,
  `done`,
].join("\n");

/** The epoch second after which the helper exits: a fault's planned end plus the grace. */
const deadlineFor = (revertBy: number) => Math.floor(Date.now() / 1000) + deadManSeconds(revertBy);

/** The attached stack's Toxiproxy, when one of Faultline's is running for it. */
export async function findAttachToxiproxy(topology: Topology): Promise<ToxiproxyHost | undefined> {
  let info: Awaited<ReturnType<ReturnType<typeof engine>["inspectContainer"]>>;
  try {
    info = await engine().inspectContainer(attachToxiproxyName(topology.replica));
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  const labels = info.Config.Labels ?? {};
  if (labels[LABEL_REPLICA] !== topology.replica || labels[LABEL_ROLE] !== ATTACH_TOXIPROXY_ROLE)
    return undefined;
  const port = info.NetworkSettings.Ports?.[`${TOXIPROXY_API_PORT}/tcp`]?.[0]?.HostPort;
  const ip = info.NetworkSettings.Networks[topology.network]?.IPAddress;
  if (!info.State.Running || !port || !ip) return undefined;
  return { id: info.Id, api: `http://127.0.0.1:${port}`, ip };
}

/** Starts the helper (or reuses the running one), living at least until `revertBy` plus the grace. */
export async function ensureAttachToxiproxy(topology: Topology, revertBy: number): Promise<ToxiproxyHost> {
  const deadline = deadlineFor(revertBy);
  const running = await findAttachToxiproxy(topology);
  if (running) {
    const later = `n=$1; [ "$n" -gt "$(cat ${DEADLINE_FILE})" ] && echo "$n" > ${DEADLINE_FILE}; true`;
    await engine().exec(running.id, ["sh", "-c", later, "sh", String(deadline)]);
    return running;
  }
  // One that is exiting (its deadline passed) or was left stopped: out of the way first.
  await removeAttachToxiproxy(topology);
  const id = await createHelper(topology, deadline);
  try {
    await engine().startContainer(id);
    return await waitForApi(topology);
  } catch (error) {
    await removeAttachToxiproxy(topology).catch(() => {});
    throw error;
  }
}

async function createHelper(topology: Topology, deadline: number): Promise<string> {
  const api = `${TOXIPROXY_API_PORT}/tcp`;
  try {
    return await engine().createContainer({
      name: attachToxiproxyName(topology.replica),
      Image: imageFor("toxiproxy"),
      Entrypoint: ["sh", "-c", SCRIPT, "faultline-toxiproxy", String(deadline)],
      Cmd: [],
      Labels: {
        [LABEL_REPLICA]: topology.replica,
        [LABEL_ROLE]: ATTACH_TOXIPROXY_ROLE,
        [LABEL_SERVICE]: "toxiproxy",
      },
      ExposedPorts: { [api]: {} },
      HostConfig: {
        NetworkMode: topology.network,
        PortBindings: { [api]: [{ HostIp: "127.0.0.1", HostPort: "" }] },
        AutoRemove: true,
        Init: true,
        // As the replica's Toxiproxy: a dial to a dead upstream gives up after 7 s, not 127 s.
        Sysctls: { "net.ipv4.tcp_syn_retries": "2" },
      },
    });
  } catch (error) {
    if (isNotFound(error))
      throw new EnvironmentError(`image ${imageFor("toxiproxy")} is not on this Docker engine`, {
        suggestion: "run scripts/setup.sh to build Faultline's images",
        cause: error,
      });
    throw error;
  }
}

async function waitForApi(topology: Topology): Promise<ToxiproxyHost> {
  return waitUntil(
    async () => {
      const host = await findAttachToxiproxy(topology);
      if (!host) return { done: false, reason: "container not running yet" };
      const response = await fetch(`${host.api}/version`, { signal: AbortSignal.timeout(1000) });
      return response.ok ? { done: true, value: host } : { done: false, reason: `API ${response.status}` };
    },
    { description: `Faultline's Toxiproxy for ${topology.replica}`, timeoutMs: 15_000, intervalMs: 50 },
  );
}

/** Removes the helper; true when there was one. Gone already is fine. */
export async function removeAttachToxiproxy(topology: Pick<Topology, "replica">): Promise<boolean> {
  return removeHelperContainer(attachToxiproxyName(topology.replica), ATTACH_TOXIPROXY_ROLE);
}
