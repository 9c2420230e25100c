import { z } from "zod";
import { InvalidInputError } from "../errors.js";
import { duration, share } from "../format/unit-schemas.js";
import { ToxiproxyApi, toxicName } from "../injectors/toxiproxy.js";
import { deadManSeconds } from "../lifecycle/watchdog.js";
import { execDetached, execIn } from "../replica/exec.js";
import { containerName, linkTo, type Topology } from "../replica/topology.js";
import { formatDuration } from "../units.js";
import type { FaultKindModule, InjectorContext, Leftovers } from "./fault-kind.js";
import { faultTiming, targetSchema } from "./fields.js";
import { toxicLeftovers } from "./toxic-link.js";

// The origin answers a share of requests with a 5xx (nginx split_clients on the request id,
// applied with a reload), and/or a share of its connections slowly (a Toxiproxy latency toxic
// with that toxicity on the origin link). A detached timer inside the origin restores the
// healthy config at the deadline if Faultline is gone by then.

export const brownoutStatuses = [500, 502, 503, 504] as const;

export const originBrownoutFaultSchema = z
  .strictObject({
    fault: z.literal("origin-brownout"),
    ...faultTiming,
    target: targetSchema.default({ kind: "name", name: "origin" }),
    errors: share.optional().describe("share of origin responses replaced by an error"),
    status: z
      .number()
      .refine((n) => (brownoutStatuses as readonly number[]).includes(n), {
        message: `expected status ${brownoutStatuses.join(", ")}`,
      })
      .default(503),
    slow: share.optional().describe("share of origin connections slowed down"),
    delay: duration('"2s"').default(1000).describe("extra latency of the slowed share"),
  })
  .superRefine((fault, ctx) => {
    if (fault.errors === undefined && fault.slow === undefined) {
      ctx.addIssue({ code: "custom", path: ["errors"], message: "expected errors, slow or both" });
    }
  });
export type OriginBrownoutFault = z.infer<typeof originBrownoutFaultSchema>;

const CONF = "/etc/nginx/faultline-brownout.conf";
const HEALTHY = "/etc/nginx/faultline-brownout.healthy";
const TIMER_PID = "/tmp/faultline-brownout-timer.pid";

export function brownoutConfig(errors: number, status: number): string {
  return `split_clients "\${request_id}" $faultline_brownout {\n  ${(errors * 100).toFixed(2)}% "${status}";\n  * "";\n}\n`;
}

/** Restores the healthy config and reloads nginx; stops the deadline timer. */
async function restoreOrigin(container: string): Promise<boolean> {
  const { output } = await execIn(container, [
    "sh",
    "-c",
    // The pid file goes first, then its sleep is killed: the timer wakes, finds no pid file and
    // leaves the restore to us. (Killing the timer's shell instead stalls the exec for seconds.)
    `p="$(cat ${TIMER_PID} 2>/dev/null)"; rm -f ${TIMER_PID}; [ -n "$p" ] && kill "$p" 2>/dev/null; if cmp -s ${CONF} ${HEALTHY}; then echo healthy; else cp ${HEALTHY} ${CONF} && nginx -s reload && echo restored; fi`,
  ]);
  return output.endsWith("restored");
}

/** Whether the origin is currently browned out (its config differs from the healthy one). */
async function isBrownedOut(container: string): Promise<boolean> {
  const { exitCode } = await execIn(container, ["cmp", "-s", CONF, HEALTHY]);
  // cmp: 0 same, 1 different, 2 trouble (an origin image without the brownout files).
  return exitCode === 1;
}

function check(fault: OriginBrownoutFault, service: string, topology: Topology): void {
  if (topology.attach)
    throw new InvalidInputError(
      "origin-brownout rewrites the config of Faultline's own origin image: not available on an attached stack",
      { suggestion: "use node-kill, packet-loss, partition or stress on the attached origin" },
    );
  const origin = topology.services.find((s) => s.name === service);
  if (origin?.own?.config || origin?.own?.build || origin?.own?.command)
    throw new InvalidInputError(
      `origin-brownout rewrites the config of Faultline's own origin: not available with this config (the topology file gives ${service} its own)`,
      {
        suggestion:
          "use node-kill, packet-loss, partition or stress on the origin, or a latency fault on its link",
      },
    );
  const role = origin?.role;
  if (role !== "origin") {
    throw new InvalidInputError(`origin-brownout acts on the origin, not on ${service}`, {
      suggestion: "drop `target` (it defaults to origin)",
    });
  }
  const link = linkTo(topology, service);
  if (fault.slow && (!link || link.proxied === false)) {
    throw new InvalidInputError(
      "origin-brownout's slow connections need one Toxiproxy link in front of the origin; this topology has none",
      {
        suggestion:
          "drop `slow`, or give the topology a shield (origin: { shield: true }) or a proxied origin link",
      },
    );
  }
}

function describe(fault: OriginBrownoutFault): string {
  const parts = [
    fault.errors ? `${(fault.errors * 100).toFixed(1)}% of responses ${fault.status}` : "",
    fault.slow
      ? `${(fault.slow * 100).toFixed(1)}% of connections ${formatDuration(fault.delay)} slower`
      : "",
  ].filter(Boolean);
  return `origin brownout: ${parts.join(", ")}`;
}

/** Swaps in the error config with a reload, and starts the timer that restores it at the deadline. */
async function brownOut(fault: OriginBrownoutFault & { errors: number }, container: string, ttl: number) {
  const written = await execIn(container, [
    "sh",
    "-c",
    `printf '%s' '${brownoutConfig(fault.errors, fault.status)}' > ${CONF} && nginx -t -q && nginx -s reload`,
  ]);
  if (written.exitCode !== 0) throw new Error(`the origin refused the brownout config: ${written.output}`);
  await execDetached(container, [
    "sh",
    "-c",
    `sleep ${ttl} & echo $! > ${TIMER_PID}; wait $!; if [ -f ${TIMER_PID} ]; then rm -f ${TIMER_PID}; cp ${HEALTHY} ${CONF} && nginx -s reload; fi`,
  ]);
}

async function apply(fault: OriginBrownoutFault, context: InjectorContext) {
  const container = containerName(context.replica.topology, context.service);
  const link = linkTo(context.replica.topology, context.service)?.name ?? "origin";
  const api = new ToxiproxyApi(context.replica.endpoints.toxiproxy);
  const toxic = toxicName(context.runId, context.faultId, "downstream");
  const revert = async () => {
    const results = await Promise.allSettled([
      restoreOrigin(container),
      fault.slow ? api.removeToxic(link, toxic) : Promise.resolve("absent"),
    ]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  };
  try {
    if (fault.errors)
      await brownOut({ ...fault, errors: fault.errors }, container, deadManSeconds(context.revertBy));
    if (fault.slow) {
      const attributes = { latency: Math.round(fault.delay), jitter: 0 };
      await api.addToxic(link, {
        name: toxic,
        type: "latency",
        stream: "downstream",
        toxicity: fault.slow,
        attributes,
      });
    }
  } catch (error) {
    await revert().catch(() => {});
    throw error;
  }
  return { description: describe(fault), revert };
}

/** An origin whose config is not the healthy one: restored, with a reload. */
const brownoutLeftovers: Leftovers = {
  id: "origin-config",
  order: 1,
  async find(replica, containers) {
    const found: string[] = [];
    // An attached stack's origin is not Faultline's image: no brownout is ever applied there.
    if (replica.topology.attach) return found;
    for (const c of containers.filter((c) => c.role === "origin" && c.state === "running"))
      if (await isBrownedOut(c.name)) found.push(`${c.service} is browned out`);
    return found;
  },
  async sweep({ replica, containers, attempt, found }) {
    if (replica.topology.attach) return;
    for (const c of containers.filter((c) => c.role === "origin")) {
      await attempt(`origin config of ${c.service}`, async () => {
        if (await restoreOrigin(containerName(replica.topology, c.service)))
          found({ kind: "config", target: c.service, what: "healthy origin config restored" });
      });
    }
  },
};

export const originBrownout: FaultKindModule<typeof originBrownoutFaultSchema> = {
  kind: "origin-brownout",
  schema: originBrownoutFaultSchema,
  summary:
    "the origin answers `errors` percent with a 5xx `status`, and/or `slow` percent of connections `delay` late",
  scaffold: {
    target: "origin",
    lines: ["errors: 30%               # share of origin responses replaced by a 5xx", "status: 503"],
  },
  disruptive: () => false,
  check,
  describe,
  describeRevert: () => "restore the origin's healthy config (nginx reload) and remove the slow-link toxic",
  apply,
  async revertEntry(entry, replica) {
    const restored = await restoreOrigin(containerName(replica.topology, entry.service));
    const link = linkTo(replica.topology, entry.service)?.name ?? entry.service;
    await new ToxiproxyApi(replica.endpoints.toxiproxy).removeFaultToxics(link, entry.runId, entry.faultId);
    return restored ? "restored the healthy origin config" : "origin config was already healthy";
  },
  leftovers: [brownoutLeftovers, toxicLeftovers],
};
