import { z } from "zod";
import { EnvironmentError, InvalidInputError } from "../errors.js";
import { chainName } from "../injectors/netfilter.js";
import { waitUntil } from "../lifecycle/wait.js";
import { deadManSeconds } from "../lifecycle/watchdog.js";
import { execDetached, execIn } from "../replica/exec.js";
import { containerName, TARGET_ROLES, type Topology } from "../replica/topology.js";
import { formatDuration, parseBytes } from "../units.js";
import type { FaultKindModule, InjectorContext, Leftovers } from "./fault-kind.js";
import { faultTiming } from "./fields.js";

// CPU and memory pressure inside the target, started with `docker exec`: busy-looping shells,
// and a perl process holding the requested memory (perl-base is in every Debian image). Every
// process runs under `timeout`, so it ends by itself at the fault's deadline whatever happens
// to Faultline; pid files under /tmp let a revert (or a recover sweep) stop them early.

const workers = "expected a number of workers from 1 to 64";

export const stressFaultSchema = z
  .strictObject({
    fault: z.literal("stress"),
    ...faultTiming,
    cpu: z
      .number({ error: workers })
      .int({ message: "expected a whole number of workers from 1 to 64" })
      .min(1, { message: workers })
      .max(64, { message: workers })
      .optional()
      .describe("busy-looping workers, each about one core"),
    memory: z
      .string({ error: 'expected a size such as "256MB" or "512MiB"' })
      .transform((text, ctx) => {
        const value = parseBytes(text);
        if (value === undefined || value < 1_000_000) {
          ctx.addIssue({
            code: "custom",
            message: `expected a size of at least 1MB such as "256MB", got "${text}"`,
          });
          return z.NEVER;
        }
        return value;
      })
      .optional()
      .describe("memory held inside the target"),
  })
  .superRefine((fault, ctx) => {
    if (fault.cpu === undefined && fault.memory === undefined) {
      ctx.addIssue({ code: "custom", path: ["cpu"], message: "expected cpu, memory or both" });
    }
  });
export type StressFault = z.infer<typeof stressFaultSchema>;

const STRESS_PREFIX = "faultline-stress-";

function stressTag(runId: string, faultId: string): string {
  return `${STRESS_PREFIX}${chainName(runId, faultId).toLowerCase()}`;
}

/** Kills every stress process whose pid file matches the glob, and removes the files. */
async function stopStress(container: string, glob: string): Promise<number> {
  const result = await execIn(container, [
    "sh",
    "-c",
    `n=0; for f in /tmp/${glob}.pid; do [ -f "$f" ] || continue; kill "$(cat "$f")" 2>/dev/null; rm -f "$f"; n=$((n+1)); done; echo $n`,
  ]);
  return Number(result.output) || 0;
}

async function countStress(container: string, glob: string): Promise<number> {
  const { output } = await execIn(container, ["sh", "-c", `ls /tmp/${glob}.pid 2>/dev/null | wc -l`]);
  return Number(output) || 0;
}

function describe(fault: StressFault, service: string): string {
  const parts = [
    fault.cpu ? `${fault.cpu} busy CPU worker(s)` : "",
    fault.memory ? `${Math.round(fault.memory / 1_000_000)}MB of memory held` : "",
  ].filter(Boolean);
  return `stress ${service}: ${parts.join(" and ")}`;
}

/** Starts the processes, each under `timeout`, and waits until every pid file is written. */
async function startStress(
  fault: StressFault,
  context: InjectorContext,
  container: string,
  tag: string,
  ttl: number,
) {
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
  const expected = (fault.cpu ?? 0) + (fault.memory ? 1 : 0);
  await waitUntil(
    async () => {
      const started = await countStress(container, `${tag}-*`);
      return started >= expected
        ? { done: true, value: undefined }
        : { done: false, reason: `${started}/${expected} started` };
    },
    { description: `the stress processes in ${context.service}`, timeoutMs: 10_000, intervalMs: 50 },
  ).catch((error: unknown) => {
    throw new EnvironmentError(`stress did not start in ${context.service}: ${(error as Error).message}`);
  });
}

const POP: ReadonlySet<string> = new Set(TARGET_ROLES);

/** Stress processes still running in any PoP container (their pid files say so). */
const stressLeftovers: Leftovers = {
  id: "stress-processes",
  order: 1,
  async find(_replica, containers) {
    const found: string[] = [];
    for (const c of containers.filter((c) => POP.has(c.role) && c.state === "running")) {
      const n = await countStress(c.name, `${STRESS_PREFIX}*`);
      if (n > 0) found.push(`${n} stress process(es) in ${c.service}`);
    }
    return found;
  },
  async sweep({ replica, containers, attempt, found }) {
    for (const c of containers.filter((c) => POP.has(c.role))) {
      await attempt(`stress processes in ${c.service}`, async () => {
        const stopped = await stopStress(containerName(replica.topology, c.service), `${STRESS_PREFIX}*`);
        if (stopped > 0) found({ kind: "process", target: c.service, what: `${stopped} stress process(es)` });
      });
    }
  },
};

export const stress: FaultKindModule<typeof stressFaultSchema> = {
  kind: "stress",
  schema: stressFaultSchema,
  summary: "`cpu` busy workers and/or `memory` held inside the target",
  scaffold: {
    target: "edge-1",
    lines: ["cpu: 1                    # busy workers, about one core each", "memory: 256MB"],
  },
  disruptive: () => false,
  check(_fault, service, topology: Topology) {
    if (!topology.services.some((s) => s.name === service))
      throw new InvalidInputError(`no service "${service}" to stress`);
  },
  describe,
  describeRevert: (_fault, service) => `kill the stress processes in ${service}`,
  async apply(fault, context) {
    const container = containerName(context.replica.topology, context.service);
    const tag = stressTag(context.runId, context.faultId);
    const ttl = deadManSeconds(context.revertBy);
    const revert = async () => void (await stopStress(container, `${tag}-*`));
    try {
      await startStress(fault, context, container, tag, ttl);
    } catch (error) {
      await revert().catch(() => {});
      throw error;
    }
    const description = `${describe(fault, context.service)} (ends by itself after ${formatDuration(ttl * 1000)})`;
    return { description, revert };
  },
  async revertEntry(entry, replica) {
    const container = containerName(replica.topology, entry.service);
    return `stopped ${await stopStress(container, `${stressTag(entry.runId, entry.faultId)}-*`)} stress process(es)`;
  },
  leftovers: [stressLeftovers],
};
