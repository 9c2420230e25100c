import { EnvironmentError, InvalidInputError } from "../errors.js";
import { chainName } from "../injectors/netfilter.js";
import { deadManSeconds } from "../lifecycle/watchdog.js";
import { execDetached, execIn } from "../replica/exec.js";
import { containerName, LB_ADMIN_PORT, LB_RUN_DIR, type Topology } from "../replica/topology.js";
import type { InjectorContext, Leftovers, ReplicaContainer } from "./fault-kind.js";

// A value held in one of the maps of the load balancer's TCP front on 443 (src/replica/
// configs.ts, tlsFront): what the TLS faults that act on new connections set, through HAProxy's
// runtime API (bash's /dev/tcp: the image needs no socat). Each fault keeps its value in a file
// of the load balancer's tmpfs, `<prefix><tag>.val`, and a shell beside it, `<prefix><tag>.pid`
// (its own pid and its sleep's), that ends the fault by itself at its deadline plus the
// watchdog's grace. Whenever a fault starts or ends, the map's entry is settled from the files
// still there: the newest one's value, or none. So faults of one kind that overlap on the load
// balancer hold the newest one's value while it lasts, then the others' again, and a restarted
// container (a fresh tmpfs, the empty map file) holds nothing. The same mechanism holds the
// http-route rule in an nginx of Faultline's images, with a file it reads in the map's place.

export interface MapSetting {
  /** The Leftovers id, once per map. */
  readonly id: string;
  /** Its files' prefix in the tmpfs; never `tls-` (tls-certificate's files). */
  readonly prefix: string;
  readonly map: string;
  readonly key: string;
  /** What a held value is, for `recover` ("... by lb"): "a TLS handshake delay held". */
  readonly what: string;
  /** What `recover` says once it is gone: "handshakes undelayed". */
  readonly undone: string;
  /** Which services hold the map (default: the load balancers of a replica serving HTTPS). */
  readonly on?: (topology: Topology, service: string) => boolean;
  /**
   * Where the value is held: the load balancer's runtime map (default), or a file that the
   * service reads itself (an nginx's http-route hook); the value files are beside it.
   */
  readonly file?: string;
  /** The tmpfs its files are in (default LB_RUN_DIR). */
  readonly dir?: string;
}

const dirOf = (setting: MapSetting) => setting.dir ?? LB_RUN_DIR;

function holdsMap(setting: MapSetting, topology: Topology, service: string): boolean {
  if (setting.on) return setting.on(topology, service);
  const role = topology.services.find((s) => s.name === service)?.role;
  return role === "lb" && Boolean(topology.tls);
}

const tagOf = (setting: MapSetting, runId: string, faultId: string) =>
  `${setting.prefix}${chainName(runId, faultId).toLowerCase()}`;

/** A bash function `api CMD`: one command on the runtime API, its answer on stdout. */
const API = `api() { exec 3<>/dev/tcp/127.0.0.1/${LB_ADMIN_PORT}; printf '%s\\n' "$1" >&3; cat <&3; exec 3<&-; }`;

/** Bash setting the map's entry (or file) to the newest remaining value file's value, or deleting it. */
function settle(setting: MapSetting): string {
  const { map, key, prefix, file } = setting;
  const newest = `v=$(ls -t ${dirOf(setting)}/${prefix}*.val 2>/dev/null | head -1)`;
  if (file)
    return `${newest}; if [ -n "$v" ]; then cp "$v" ${file}.new && mv ${file}.new ${file}; else rm -f ${file}; fi`;
  return [
    newest,
    `if [ -n "$v" ]; then val=$(cat "$v"); r=$(api "set map ${map} ${key} $val"); case "$r" in *"not found"*) api "add map ${map} ${key} $val" >/dev/null;; esac; else api "del map ${map} ${key}" >/dev/null; fi`,
  ].join("; ");
}

/** Bash printing the value held ("" when none). */
const shown = (setting: MapSetting) =>
  setting.file
    ? `cat ${setting.file} 2>/dev/null; echo`
    : `api "show map ${setting.map}" | awk '$2 == "${setting.key}" { print $3 }'`;

/**
 * Ends the faults whose files match `glob` (their deadline shells and sleeps killed), then
 * settles the entry. Returns how many it ended, and whether the entry held a value before
 * (e.g. one whose shell was killed by hand).
 */
export async function release(
  setting: MapSetting,
  container: string,
  glob: string,
): Promise<{ ended: number; held: boolean }> {
  const script = [
    API,
    `held=$(${shown(setting)})`,
    `n=0; for f in ${dirOf(setting)}/${glob}.val; do [ -f "$f" ] || continue; p="\${f%.val}.pid"; [ -f "$p" ] && kill $(cat "$p") 2>/dev/null; rm -f "$f" "$p"; n=$((n+1)); done`,
    settle(setting),
    `echo "$n \${held:+held}"`,
  ].join("; ");
  const { exitCode, output } = await execIn(container, ["bash", "-c", script]);
  if (exitCode !== 0)
    throw new EnvironmentError(`clearing ${setting.key} in ${setting.map} failed: ${output}`);
  const [ended, held] = (output.trim().split("\n").pop() ?? "").split(" ");
  return { ended: Number(ended) || 0, held: held === "held" };
}

/**
 * Holds `value` in the map for this fault: the deadline shell first (from the moment the value
 * is held, it is undone by itself), then the entry settled. Returns the shell's seconds and
 * the revert (idempotent); undoes its partial work when it fails.
 */
export async function hold(
  setting: MapSetting,
  context: InjectorContext,
  value: string,
): Promise<{ ttl: number; revert: () => Promise<void> }> {
  const container = containerName(context.replica.topology, context.service);
  const tag = tagOf(setting, context.runId, context.faultId);
  const file = `${dirOf(setting)}/${tag}`;
  const revert = async () => void (await release(setting, container, tag));
  try {
    const ttl = deadManSeconds(context.revertBy);
    await execDetached(container, [
      "bash",
      "-c",
      // Both pids in the file: a revert ends the sleep too (an orphaned sleep holding the
      // exec's streams delays the engine's next exec in this container by about 4 s).
      `${API}; printf '%s' '${value}' > ${file}.val; sleep ${ttl} & echo "$$ $!" > ${file}.pid; wait $!; rm -f ${file}.pid ${file}.val; ${settle(setting)}`,
    ]);
    const { exitCode, output } = await execIn(container, [
      "bash",
      "-c",
      `${API}; for i in $(seq 50); do [ -f ${file}.pid ] && break; sleep 0.02; done; [ -f ${file}.pid ] || { echo "the deadline shell did not start"; exit 1; }; ${settle(setting)}; ${shown(setting)}`,
    ]);
    if (exitCode !== 0 || output.trim().split("\n").pop() !== value)
      throw new EnvironmentError(
        `HAProxy did not take ${setting.key} ${value} in ${setting.map}: ${output.trim()}`,
      );
    return { ttl, revert };
  } catch (error) {
    await revert().catch(() => {});
    throw error;
  }
}

/** Undoes one ledger entry's value: true when there was one. */
export async function releaseEntry(
  setting: MapSetting,
  entry: { runId: string; faultId: string; service: string },
  topology: Topology,
): Promise<boolean> {
  const { ended } = await release(
    setting,
    containerName(topology, entry.service),
    tagOf(setting, entry.runId, entry.faultId),
  );
  return ended > 0;
}

/** Values a crashed run left held in the map of a load balancer, found by their files or the entry. */
export function mapLeftovers(setting: MapSetting): Leftovers {
  return {
    id: setting.id,
    order: 1,
    async find(replica, containers) {
      const found: string[] = [];
      for (const c of holders(setting, replica.topology, containers)) {
        const { output } = await execIn(c.name, [
          "bash",
          "-c",
          `${API}; ls ${dirOf(setting)}/${setting.prefix}*.val 2>/dev/null | wc -l; { ${shown(setting)}; } | grep -c .`,
        ]);
        const [files, entries] = output.trim().split("\n").map(Number);
        if ((files ?? 0) > 0 || (entries ?? 0) > 0) found.push(`${setting.what} by ${c.service}`);
      }
      return found;
    },
    async sweep({ replica, containers, attempt, found }) {
      for (const c of holders(setting, replica.topology, containers)) {
        await attempt(`${setting.what} by ${c.service}`, async () => {
          const { ended, held } = await release(
            setting,
            containerName(replica.topology, c.service),
            `${setting.prefix}*`,
          );
          if (ended > 0 || held) found({ kind: "config", target: c.service, what: setting.undone });
        });
      }
    },
  };
}

/** The running services whose config holds the map. */
function holders(setting: MapSetting, topology: Topology, containers: readonly ReplicaContainer[]) {
  return containers.filter((c) => c.state === "running" && holdsMap(setting, topology, c.service));
}

/**
 * Refuses a target other than a load balancer serving HTTPS, naming what would work; with
 * `ending`, also one that passes TLS through to the edges (the fault changes the TLS that
 * the load balancer itself ends).
 */
export function checkTlsTarget(what: string, service: string, topology: Topology, ending = false): void {
  const role = topology.services.find((s) => s.name === service)?.role;
  const passes = topology.tls?.terminate === "edges";
  if (topology.tls && role === "lb" && !(ending && passes)) return;
  const toLb = "target the load balancer (target: lb), where this replica terminates TLS";
  const elsewhere =
    "run it on a replica whose topology file has tls: { terminate: lb } (topologies/https.yaml), with target: lb";
  if (passes && role === "lb")
    throw new InvalidInputError(
      `${what} needs TLS to end at the load balancer: ${service} passes it through to the edges`,
      {
        suggestion: elsewhere,
      },
    );
  if (passes)
    throw new InvalidInputError(`${what} acts on the load balancer's TCP front on 443, not on ${service}`, {
      suggestion: ending
        ? elsewhere
        : "target the load balancer (target: lb), which every TLS connection crosses",
    });
  throw new InvalidInputError(
    `${what} on a target that does not terminate TLS: ${service} serves no TLS${topology.tls ? "" : ` (replica ${topology.replica} serves plain HTTP)`}`,
    { suggestion: topology.tls ? toLb : elsewhere },
  );
}
