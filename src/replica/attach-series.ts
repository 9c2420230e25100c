import { EnvironmentError, errorMessage } from "../errors.js";
import {
  ATTACH_SERIES_ROLE,
  isNotFound,
  LABEL_REPLICA,
  LABEL_ROLE,
  LABEL_RUN,
  LABEL_SERVICE,
  removeHelperContainer,
} from "./docker.js";
import { engine } from "./engine.js";
import { SERIES_LUA } from "./lb-lua.js";
import {
  imageFor,
  LB_SERIES_DIR,
  LB_SERIES_FILE,
  LB_STATS_PORT,
  SERIES_PATH,
  type Topology,
} from "./topology.js";

// Where a run's series are served on an attached stack, when its settings ask for them
// (`attach.series`): a container of Faultline's (`faultline-<name>-series`, labelled
// faultline.replica=<name>, so attach discovery ignores it and `recover` finds it) on the
// stack's network, with the alias `faultline-series`, so the stack's own Prometheus scrapes
// faultline-series:8405/faultline/metrics. It is the load balancer's image, running HAProxy
// with the same Lua service as the built-in replica's load balancer, and is written to the
// same way (src/replica/series-files.ts). Its port is published, on 127.0.0.1 only, when the
// settings name one. It carries its run's id. It never outlives its run by long: the run's
// end removes it, so does the run's dead-man's switch and `recover`, and failing all of
// them it exits when no run has written its series for IDLE_EXIT_SECONDS (a run rewrites
// them every 5 s) and is removed when it exits.

export const SERIES_ALIAS = "faultline-series";
const IDLE_EXIT_SECONDS = 60;
const CONFIG = "/run/faultline/series.cfg";
const LUA = "/run/faultline/series.lua";

export const attachSeriesName = (replica: string) => `faultline-${replica}-series`;

/** HAProxy serving SERIES_PATH and nothing else. */
const haproxyConfig = [
  "global",
  `  lua-load ${LUA}`,
  "defaults",
  "  mode http",
  "  timeout connect 1s",
  "  timeout client 10s",
  "  timeout server 10s",
  "frontend series",
  `  bind :${LB_STATS_PORT}`,
  `  http-request use-service lua.faultline_series if { path ${SERIES_PATH} }`,
  "  http-request return status 404",
  "",
].join("\n");

/** sh -c SCRIPT faultline-series CONFIG LUA: HAProxy, and its exit once the series go stale. */
const SCRIPT = [
  `mkdir -p ${LB_SERIES_DIR}`,
  `printf '%s' "$1" > ${CONFIG}; printf '%s' "$2" > ${LUA}`,
  `[ -e ${LB_SERIES_FILE} ] || : > ${LB_SERIES_FILE}`,
  `haproxy -W -db -f ${CONFIG} & pid=$!`,
  `trap 'kill $pid 2>/dev/null; exit 0' TERM INT`,
  `while kill -0 $pid 2>/dev/null; do`,
  `  if [ $(( $(date +%s) - $(stat -c %Y ${LB_SERIES_FILE}) )) -gt ${IDLE_EXIT_SECONDS} ]; then`,
  `    echo "faultline-series: no run wrote its series for ${IDLE_EXIT_SECONDS} s"; kill $pid; wait $pid; exit 0`,
  `  fi`,
  `  sleep 1`,
  `done`,
].join("\n");

/**
 * Starts the run's container (or keeps it, when it runs already); returns its name, for
 * series-files.ts. Another run's, left by a crash, is replaced.
 */
export async function ensureAttachSeries(
  topology: Topology,
  runId: string,
  port: number | undefined,
): Promise<string> {
  const name = attachSeriesName(topology.replica);
  const running = await engine()
    .inspectContainer(name)
    .catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
  const labels = running?.Config.Labels ?? {};
  if (running?.State.Running && labels[LABEL_ROLE] === ATTACH_SERIES_ROLE && labels[LABEL_RUN] === runId)
    return name;
  await removeAttachSeries(topology);
  const id = await create(topology, runId, port);
  try {
    await engine().startContainer(id);
  } catch (error) {
    await removeAttachSeries(topology).catch(() => {});
    throw error;
  }
  return name;
}

async function create(topology: Topology, runId: string, port: number | undefined): Promise<string> {
  const exposed = `${LB_STATS_PORT}/tcp`;
  try {
    return await engine().createContainer({
      name: attachSeriesName(topology.replica),
      Image: imageFor("lb"),
      Entrypoint: ["sh", "-c", SCRIPT, "faultline-series", haproxyConfig, SERIES_LUA],
      Cmd: [],
      Labels: {
        [LABEL_REPLICA]: topology.replica,
        [LABEL_ROLE]: ATTACH_SERIES_ROLE,
        [LABEL_SERVICE]: "series",
        [LABEL_RUN]: runId,
      },
      // Published on 127.0.0.1 only when the settings name a port (a Prometheus on the host).
      ...(port === undefined ? {} : { ExposedPorts: { [exposed]: {} } }),
      HostConfig: {
        NetworkMode: topology.network,
        ...(port === undefined
          ? {}
          : { PortBindings: { [exposed]: [{ HostIp: "127.0.0.1", HostPort: String(port) }] } }),
        Tmpfs: { "/run/faultline": "size=8m" },
        AutoRemove: true,
        Init: true,
      },
      NetworkingConfig: { EndpointsConfig: { [topology.network]: { Aliases: [SERIES_ALIAS] } } },
    });
  } catch (error) {
    // A 404 is also a network gone (the stack taken down): only a missing image is setup's.
    if (isNotFound(error) && /image/i.test(errorMessage(error)))
      throw new EnvironmentError(`image ${imageFor("lb")} is not on this Docker engine`, {
        suggestion: "run scripts/setup.sh to build Faultline's images",
        cause: error,
      });
    throw error;
  }
}

/**
 * Removes the container; true when there was one. Gone already is fine. With `runId`, only
 * that run's (a run's dead-man's switch never removes the next run's).
 */
export async function removeAttachSeries(
  topology: Pick<Topology, "replica">,
  runId?: string,
): Promise<boolean> {
  const name = attachSeriesName(topology.replica);
  if (runId !== undefined) {
    const info = await engine()
      .inspectContainer(name)
      .catch(() => undefined);
    if (info?.Config.Labels?.[LABEL_RUN] !== runId) return false;
  }
  return removeHelperContainer(name, ATTACH_SERIES_ROLE);
}
