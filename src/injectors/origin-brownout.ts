import { InvalidInputError } from "../errors.js";
import type { OriginBrownoutFault } from "../experiments/schema.js";
import { deadManSeconds } from "../lifecycle/watchdog.js";
import { execDetached, execIn } from "../replica/exec.js";
import { containerName, linkTo, type Topology } from "../replica/topology.js";
import { formatDuration } from "../units.js";
import type { AppliedFault, Injector, InjectorContext } from "./injector.js";
import { ToxiproxyApi, toxicName } from "./toxiproxy.js";

// The origin answers a share of requests with a 5xx (nginx split_clients on the request id,
// applied with a reload), and/or a share of its connections slowly (a Toxiproxy latency toxic
// with that toxicity on the origin link). A detached timer inside the origin restores the
// healthy config at the deadline if Faultline is gone by then.

const CONF = "/etc/nginx/faultline-brownout.conf";
const HEALTHY = "/etc/nginx/faultline-brownout.healthy";
const TIMER_PID = "/tmp/faultline-brownout-timer.pid";

export function brownoutConfig(errors: number, status: number): string {
  return `split_clients "\${request_id}" $faultline_brownout {\n  ${(errors * 100).toFixed(2)}% "${status}";\n  * "";\n}\n`;
}

/** Restores the healthy config and reloads nginx; stops the deadline timer. */
export async function restoreOrigin(container: string): Promise<boolean> {
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
export async function isBrownedOut(container: string): Promise<boolean> {
  const { exitCode } = await execIn(container, ["cmp", "-s", CONF, HEALTHY]);
  // cmp: 0 same, 1 different, 2 trouble (an origin image without the brownout files).
  return exitCode === 1;
}

export const originBrownoutInjector: Injector<OriginBrownoutFault> = {
  kind: "origin-brownout",
  disruptive: () => false,
  check(fault, service, topology: Topology) {
    const role = topology.services.find((s) => s.name === service)?.role;
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
  },
  describe(fault) {
    const parts = [
      fault.errors ? `${(fault.errors * 100).toFixed(1)}% of responses ${fault.status}` : "",
      fault.slow
        ? `${(fault.slow * 100).toFixed(1)}% of connections ${formatDuration(fault.delay)} slower`
        : "",
    ].filter(Boolean);
    return `origin brownout: ${parts.join(", ")}`;
  },
  describeRevert() {
    return "restore the origin's healthy config (nginx reload) and remove the slow-link toxic";
  },
  async apply(fault, context: InjectorContext): Promise<AppliedFault> {
    const container = containerName(context.replica.topology, context.service);
    const link = linkTo(context.replica.topology, context.service)?.name ?? "origin";
    const api = new ToxiproxyApi(context.replica.endpoints.toxiproxy);
    const toxic = toxicName(context.runId, context.faultId, "downstream");
    const ttl = deadManSeconds(context.revertBy);
    const revert = async () => {
      const results = await Promise.allSettled([
        restoreOrigin(container),
        fault.slow ? api.removeToxic(link, toxic) : Promise.resolve("absent"),
      ]);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
    };
    try {
      if (fault.errors) {
        const written = await execIn(container, [
          "sh",
          "-c",
          `printf '%s' '${brownoutConfig(fault.errors, fault.status)}' > ${CONF} && nginx -t -q && nginx -s reload`,
        ]);
        if (written.exitCode !== 0)
          throw new Error(`the origin refused the brownout config: ${written.output}`);
        await execDetached(container, [
          "sh",
          "-c",
          `sleep ${ttl} & echo $! > ${TIMER_PID}; wait $!; if [ -f ${TIMER_PID} ]; then rm -f ${TIMER_PID}; cp ${HEALTHY} ${CONF} && nginx -s reload; fi`,
        ]);
      }
      if (fault.slow) {
        await api.addToxic(link, {
          name: toxic,
          type: "latency",
          stream: "downstream",
          toxicity: fault.slow,
          attributes: { latency: Math.round(fault.delay), jitter: 0 },
        });
      }
    } catch (error) {
      await revert().catch(() => {});
      throw error;
    }
    return { description: this.describe(fault, context.service, context.replica.topology), revert };
  },
};
