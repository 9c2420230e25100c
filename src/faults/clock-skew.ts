import { z } from "zod";
import { EnvironmentError, InvalidInputError } from "../errors.js";
import { chainName } from "../injectors/netfilter.js";
import { deadManSeconds } from "../lifecycle/watchdog.js";
import { execDetached, execIn } from "../replica/exec.js";
import type { Replica } from "../replica/replica.js";
import {
  CLOCK_SKEW_DIR,
  CLOCK_SKEW_FILE,
  containerName,
  hasSkewableClock,
  type Topology,
} from "../replica/topology.js";
import { formatDuration, parseThresholdDuration } from "../units.js";
import type { FaultKindModule, InjectorContext, Leftovers } from "./fault-kind.js";
import { faultTiming } from "./fields.js";

// The wall clock of one edge (or the shield) skewed by a signed offset. Faultline's edge image
// preloads libfaketime into every process (docker/edge/Dockerfile); it follows /etc/faketimerc,
// a link to CLOCK_SKEW_FILE in a tmpfs, and reads it again each second: with no file the time
// is real. The fault writes "+N" seconds there; nginx then dates its responses and judges its
// cache by the skewed clock (its timers run on the monotonic clock, which stays true). A shell
// in the container removes the file by itself at the fault's deadline (plus the watchdog's
// grace); its pid file is how a revert stops it and how `recover` finds anyone's.

/** 50 years of 365 days, as libfaketime counts them. */
export const MAX_SKEW_DAYS = 18_250;
const MAX_SKEW_MS = MAX_SKEW_DAYS * 86_400_000;
const EXAMPLE = '"2d", "+90m" or "-1h"';

/** Parses "2d", "+90m", "-1h" into signed milliseconds (days allowed); undefined for anything else. */
export function parseSkew(text: string): number | undefined {
  const match = /^\s*([+-]?)\s*(\S.*)$/.exec(text);
  if (!match?.[2]) return undefined;
  const magnitude = parseThresholdDuration(match[2]);
  if (magnitude === undefined) return undefined;
  return match[1] === "-" ? -magnitude : magnitude;
}

/** A skew as one writes it: "+2d", "-90m", "+1h30m" would be "+90m" (the largest unit that fits exactly). */
export function formatSkew(ms: number): string {
  const seconds = Math.round(Math.abs(ms) / 1000);
  const units: [string, number][] = [
    ["d", 86_400],
    ["h", 3_600],
    ["m", 60],
  ];
  const [unit, size] = units.find(([, size]) => seconds % size === 0) ?? ["s", 1];
  return `${ms < 0 ? "-" : "+"}${seconds / size}${unit}`;
}

const skewField = z
  .string({ error: `expected a signed duration such as ${EXAMPLE}` })
  .transform((text, ctx) => {
    const value = parseSkew(text);
    const fail = (message: string, suggestion: string) => {
      ctx.addIssue({ code: "custom", message, params: { suggestion } });
      return z.NEVER;
    };
    if (value === undefined)
      return fail(
        `expected a signed duration such as ${EXAMPLE}, got "${text}"`,
        'write the skew with its unit and an optional sign: "2d" (ahead), "-90m" (behind)',
      );
    if (Math.abs(value) < 1000)
      return fail(
        `expected a skew of at least 1s either way, got "${text}"`,
        'skew by "1s" or more: libfaketime sets whole seconds',
      );
    if (value % 1000 !== 0)
      return fail(
        `expected a skew in whole seconds, got "${text}"`,
        "libfaketime's offsets are whole seconds: round it to a second",
      );
    if (Math.abs(value) > MAX_SKEW_MS)
      return fail(
        `a skew of "${text}" is beyond what the mechanism supports: at most ${MAX_SKEW_DAYS}d (50 years) either way`,
        `skew by at most "${MAX_SKEW_DAYS}d" ahead or "-${MAX_SKEW_DAYS}d" behind: nginx clamps dates before 1970 and after 9999, and certificates and cache lifetimes are judged on dates it can show`,
      );
    return value;
  });

export const clockSkewFaultSchema = z.strictObject({
  fault: z.literal("clock-skew"),
  ...faultTiming,
  skew: skewField.describe("how far the target's wall clock is off: ahead (2d, +90m) or behind (-1h)"),
});
export type ClockSkewFault = z.infer<typeof clockSkewFaultSchema>;

const PREFIX = "skew-";
const tagOf = (runId: string, faultId: string) => `${PREFIX}${chainName(runId, faultId).toLowerCase()}`;
/** Faultline's cache folders in its edge image (/var/cache/faultline-edge, -shield). */
const CACHE_GLOB = "/var/cache/faultline-*";

/**
 * A shell script that undoes the skews whose tag matches `pattern` (a shell glob): it ends their
 * deadline shells, removes the offset file if one of them wrote it, and after a skew ahead
 * purges the cache. Entries stored under a clock ahead carry an expiry that far ahead: once
 * the clock is true again they would stay fresh for the whole skew, so they go; nginx takes a
 * cache file that is gone for a miss. The purge waits until nginx reads the real time again
 * (libfaketime reads the file each second). Prints how many skews it undid.
 */
function restoreScript(pattern: string): string {
  return [
    "n=0",
    `for f in ${CLOCK_SKEW_DIR}/${pattern}.pid; do [ -f "$f" ] || continue; kill $(cat "$f") 2>/dev/null; rm -f "$f"; n=$((n+1)); done`,
    `ahead=0; if [ -f ${CLOCK_SKEW_FILE} ]; then case "$(head -n1 ${CLOCK_SKEW_FILE})" in "# faultline "${pattern}) case "$(sed -n 2p ${CLOCK_SKEW_FILE})" in +*) ahead=1;; esac; rm -f ${CLOCK_SKEW_FILE}; [ $n -gt 0 ] || n=1;; esac; fi`,
    `if [ $ahead = 1 ]; then sleep 1.2; find ${CACHE_GLOB} -type f -delete 2>/dev/null; fi`,
    "echo $n",
  ].join("; ");
}

async function restore(container: string, pattern: string): Promise<number> {
  const { exitCode, output } = await execIn(container, ["bash", "-c", restoreScript(pattern)]);
  if (exitCode !== 0) throw new EnvironmentError(`restoring the clock failed: ${output.trim()}`);
  return Number(output.trim().split("\n").pop()) || 0;
}

/**
 * Refuses a container without the mechanism (an image built before it, a replica brought up
 * without the tmpfs) or with a skew in place, then starts the deadline shell and writes the file.
 */
async function skewClock(
  fault: ClockSkewFault,
  context: InjectorContext,
  container: string,
): Promise<number> {
  const tag = tagOf(context.runId, context.faultId);
  const ttl = deadManSeconds(context.revertBy);
  const preflight = await execIn(container, [
    "bash",
    "-c",
    [
      `grep -qs " ${CLOCK_SKEW_DIR} tmpfs " /proc/mounts || { echo "no tmpfs at ${CLOCK_SKEW_DIR}"; exit 3; }`,
      `ok=0; for c in $(cat /proc/1/task/1/children); do grep -qs libfaketime /proc/$c/maps && ok=1; done; [ $ok = 1 ] || { echo "its service runs without libfaketime"; exit 3; }`,
      `[ ! -e ${CLOCK_SKEW_FILE} ] || { echo "a clock skew is in place already: $(sed -n 2p ${CLOCK_SKEW_FILE})"; exit 4; }`,
    ].join("; "),
  ]);
  if (preflight.exitCode === 3)
    throw new EnvironmentError(`${context.service} cannot skew its clock: ${preflight.output.trim()}`, {
      suggestion:
        "rebuild the images (scripts/setup.sh) and bring the replica up again (faultline replica down, then up)",
    });
  if (preflight.exitCode !== 0)
    throw new EnvironmentError(`${context.service}: ${preflight.output.trim()}`, {
      suggestion: "run `faultline recover` to undo what an earlier run left",
    });
  // The deadline shell first: from the moment the clock is skewed, it is undone by itself. Both
  // pids in the file: a revert ends the sleep too (an orphaned sleep holding the exec's streams
  // delays the engine's next exec in this container by about 4 s).
  await execDetached(container, [
    "bash",
    "-c",
    `sleep ${ttl} & echo "$$ $!" > ${CLOCK_SKEW_DIR}/${tag}.pid; wait $!; rm -f ${CLOCK_SKEW_DIR}/${tag}.pid; ${restoreScript(tag)} >/dev/null`,
  ]);
  // Written by a shell, not the engine's archive call: that does not reach into a tmpfs.
  // libfaketime reads the first line that is not a comment: the offset in seconds.
  const seconds = Math.round(fault.skew / 1000);
  const { exitCode, output } = await execIn(container, [
    "bash",
    "-c",
    `for i in $(seq 50); do [ -f ${CLOCK_SKEW_DIR}/${tag}.pid ] && break; sleep 0.02; done; [ -f ${CLOCK_SKEW_DIR}/${tag}.pid ] || { echo "the deadline shell did not start"; exit 1; }; printf '# faultline %s\\n%s\\n' ${tag} ${seconds < 0 ? seconds : `+${seconds}`} > ${CLOCK_SKEW_FILE}.new && mv ${CLOCK_SKEW_FILE}.new ${CLOCK_SKEW_FILE}`,
  ]);
  if (exitCode !== 0)
    throw new EnvironmentError(`skewing the clock of ${context.service} failed: ${output.trim()}`);
  return ttl;
}

async function countSkews(container: string): Promise<number> {
  const { output } = await execIn(container, [
    "sh",
    "-c",
    `{ ls ${CLOCK_SKEW_DIR}/${PREFIX}*.pid 2>/dev/null; grep -ls "^# faultline ${PREFIX}" ${CLOCK_SKEW_FILE}; } | wc -l`,
  ]);
  return Number(output.trim()) || 0;
}

/** Skewed clocks in edges and shields (their offset files or deadline shells say so). */
const clockLeftovers: Leftovers = {
  id: "clock-skews",
  order: 1,
  async find(_replica, containers) {
    const found: string[] = [];
    for (const c of containers.filter(
      (c) => (c.role === "edge" || c.role === "shield") && c.state === "running",
    )) {
      if ((await countSkews(c.name)) > 0) found.push(`a skewed clock in ${c.service}`);
    }
    return found;
  },
  async sweep({ replica, containers, attempt, found }) {
    for (const c of containers.filter(
      (c) => (c.role === "edge" || c.role === "shield") && c.state === "running",
    )) {
      await attempt(`the clock of ${c.service}`, async () => {
        const n = await restore(containerName(replica.topology, c.service), `${PREFIX}*`);
        if (n > 0) found({ kind: "config", target: c.service, what: "its clock is true again" });
      });
    }
  },
};

function check(_fault: ClockSkewFault, service: string, topology: Topology): void {
  const target = topology.services.find((s) => s.name === service);
  if (target && hasSkewableClock(topology, target)) return;
  const skewable = topology.services.filter((s) => hasSkewableClock(topology, s)).map((s) => s.name);
  const why = !target
    ? `no service "${service}"`
    : topology.attach
      ? `${service} is a container of the attached stack, which has no libfaketime`
      : target.role === "edge" || target.role === "shield"
        ? `${service} runs an image of the topology file's, which has no libfaketime`
        : `${service} (${target.role}) runs without libfaketime`;
  throw new InvalidInputError(`a clock skew on a target whose clock Faultline cannot skew: ${why}`, {
    suggestion: skewable.length
      ? `target an edge or the shield on Faultline's edge image, which preloads libfaketime: ${skewable.slice(0, 5).join(", ")}${skewable.length > 5 ? ", ..." : ""} (or { role: edge, pick: 1 })`
      : "run it on Faultline's own replica, whose edges run Faultline's edge image (it preloads libfaketime)",
  });
}

const describe = (fault: ClockSkewFault, service: string) =>
  `skew the clock of ${service} ${formatSkew(fault.skew)} (${fault.skew < 0 ? "behind" : "ahead"})`;

export const clockSkew: FaultKindModule<typeof clockSkewFaultSchema> = {
  kind: "clock-skew",
  schema: clockSkewFaultSchema,
  summary:
    "skews the wall clock of an edge or the shield by `skew` (`2d` ahead, `-90m` behind), with libfaketime",
  scaffold: { target: "edge-1", lines: ["skew: 2d                  # ahead; -1h is behind"] },
  disruptive: () => false,
  exclusive: () => "its one clock offset file",
  check,
  describe,
  describeRevert: (fault, service) =>
    `set the clock of ${service} true again${fault.skew > 0 ? " and purge its cache (entries stored ahead would stay fresh)" : ""}`,
  async apply(fault, context) {
    const container = containerName(context.replica.topology, context.service);
    const tag = tagOf(context.runId, context.faultId);
    const revert = async () => void (await restore(container, tag));
    try {
      const ttl = await skewClock(fault, context, container);
      return {
        description: `${describe(fault, context.service)}, seen by nginx within a second (true again by itself after ${formatDuration(ttl * 1000)})`,
        revert,
      };
    } catch (error) {
      await revert().catch(() => {});
      throw error;
    }
  },
  async revertEntry(entry, replica: Replica) {
    const n = await restore(
      containerName(replica.topology, entry.service),
      tagOf(entry.runId, entry.faultId),
    );
    return n > 0 ? `the clock of ${entry.service} is true again` : "no clock was skewed";
  },
  leftovers: [clockLeftovers],
};
