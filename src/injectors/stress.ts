import { EnvironmentError, InvalidInputError } from "../errors.js";
import type { StressFault } from "../experiments/schema.js";
import { waitUntil } from "../lifecycle/wait.js";
import { deadManSeconds } from "../lifecycle/watchdog.js";
import { execDetached, execIn } from "../replica/exec.js";
import { containerName, type Topology } from "../replica/topology.js";
import { formatDuration } from "../units.js";
import type { AppliedFault, Injector, InjectorContext } from "./injector.js";
import { chainName } from "./netfilter.js";

// CPU and memory pressure inside the target, started with `docker exec`: busy-looping shells,
// and a perl process holding the requested memory (perl-base is in every Debian image). Every
// process runs under `timeout`, so it ends by itself at the fault's deadline whatever happens
// to Faultline; pid files under /tmp let a revert (or a recover sweep) stop them early.

export const STRESS_PREFIX = "faultline-stress-";

export function stressTag(runId: string, faultId: string): string {
  return `${STRESS_PREFIX}${chainName(runId, faultId).toLowerCase()}`;
}

/** Kills every stress process whose pid file matches the glob, and removes the files. */
export async function stopStress(container: string, glob: string): Promise<number> {
  const result = await execIn(container, [
    "sh",
    "-c",
    `n=0; for f in /tmp/${glob}.pid; do [ -f "$f" ] || continue; kill "$(cat "$f")" 2>/dev/null; rm -f "$f"; n=$((n+1)); done; echo $n`,
  ]);
  return Number(result.output) || 0;
}

export const stressInjector: Injector<StressFault> = {
  kind: "stress",
  disruptive: () => false,
  check(_fault, service, topology: Topology) {
    if (!topology.services.some((s) => s.name === service))
      throw new InvalidInputError(`no service "${service}" to stress`);
  },
  describe(fault, service) {
    const parts = [
      fault.cpu ? `${fault.cpu} busy CPU worker(s)` : "",
      fault.memory ? `${Math.round(fault.memory / 1_000_000)}MB of memory held` : "",
    ].filter(Boolean);
    return `stress ${service}: ${parts.join(" and ")}`;
  },
  describeRevert(_fault, service) {
    return `kill the stress processes in ${service}`;
  },
  async apply(fault, context: InjectorContext): Promise<AppliedFault> {
    const container = containerName(context.replica.topology, context.service);
    const tag = stressTag(context.runId, context.faultId);
    const ttl = deadManSeconds(context.revertBy);
    const expected = (fault.cpu ?? 0) + (fault.memory ? 1 : 0);
    const revert = async () => {
      await stopStress(container, `${tag}-*`);
    };
    try {
      for (let i = 0; i < (fault.cpu ?? 0); i++) {
        await execDetached(container, [
          "sh",
          "-c",
          `echo $$ > /tmp/${tag}-cpu${i}.pid; exec timeout ${ttl} sh -c 'while :; do :; done'`,
        ]);
      }
      if (fault.memory) {
        await execDetached(container, [
          "sh",
          "-c",
          // The size is an argument, not a literal: perl would fold a literal at compile time and hold it twice.
          `echo $$ > /tmp/${tag}-mem.pid; exec timeout ${ttl} perl -e 'my $n = shift; my $x = "a" x $n; sleep ${ttl}' ${fault.memory}`,
        ]);
      }
      await waitUntil(
        async () => {
          const { output } = await execIn(container, [
            "sh",
            "-c",
            `ls /tmp/${tag}-*.pid 2>/dev/null | wc -l`,
          ]);
          return Number(output) >= expected
            ? { done: true, value: undefined }
            : { done: false, reason: `${output}/${expected} started` };
        },
        { description: `the stress processes in ${context.service}`, timeoutMs: 10_000, intervalMs: 50 },
      ).catch((error: unknown) => {
        throw new EnvironmentError(`stress did not start in ${context.service}: ${(error as Error).message}`);
      });
    } catch (error) {
      await revert().catch(() => {});
      throw error;
    }
    return {
      description: `${this.describe(fault, context.service, context.replica.topology)} (ends by itself after ${formatDuration(ttl * 1000)})`,
      revert,
    };
  },
};
