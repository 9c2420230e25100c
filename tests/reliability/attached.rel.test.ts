import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readLedger } from "../../src/lifecycle/ledger.js";
import { waitUntil } from "../../src/lifecycle/wait.js";
import { rawClient } from "../../src/replica/engine.js";
import { runCli, startCli, waitForOutput } from "../support/cli.js";
import { ComposePop, startDecoy } from "../support/compose-pop.js";
import { tempDir } from "../support/temp.js";

// The reliability harness on a stack Faultline did not create: the example Compose PoP.
// Every trial starts a run with faults of each family that works on attached containers at
// once (a paused edge, a netfilter loss rule, a partition, CPU stress, a latency toxic
// through a transparent redirect), its series served on the stack's network, interrupts it at
// a random moment of its inject phase, and checks the stack is exactly as it was: the same
// container ids, running, nothing paused, no Faultline rule in any namespace, no stress
// process, no Faultline container. A container of another project, labelled like one of
// this project's edges and on its network, must come through every trial untouched.
// `npm test` runs one trial of each; `npm run reliability -- --trials 50` more.

// One trial of each in `npm test` (the built-in replica's harness runs two), to keep CI in budget.
const TRIALS = Math.max(1, Number(process.env.FAULTLINE_TRIALS ?? "1"));
const stack = new ComposePop(`fl-rel-attach-${process.pid}`);

function experimentFile(): string {
  const file = join(tempDir("faultline-rel-attach-"), "rel.yaml");
  writeFileSync(
    file,
    `version: 1
name: rel-attached
${stack.replicaYaml.replace("    roles:", "    series: true\n    roles:")}
load: { rate: 20/s, warmup: 1s, timeout: 1s }
steadyState:
  window: 2s
  baseline: 2s
  checks: [{ metric: errors.rate, below: 100% }]
method:
  - { fault: node-kill, target: edge-1, mode: pause, for: 60s }
  - { fault: packet-loss, target: edge-2, loss: 20%, for: 60s }
  - { fault: partition, target: origin, from: edge-3, for: 60s }
  - { fault: stress, target: edge-3, cpu: 1, for: 60s }
  - { fault: latency, target: origin, latency: 100ms, for: 60s }
`,
  );
  return file;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startInjecting(env: NodeJS.ProcessEnv = {}) {
  const cli = startCli(
    [
      "run",
      experimentFile(),
      "--runs-dir",
      tempDir("faultline-rel-runs-"),
      "--no-history",
      "--progress",
      "plain",
    ],
    env,
  );
  await waitForOutput(cli, "applied  f5", 90_000);
  await sleep(Math.floor(Math.random() * 3000));
  return cli;
}

const trials = Array.from({ length: TRIALS }, (_, i) => i + 1);

describe(`the reliability harness on an attached Compose stack (${TRIALS} trial(s) of each kind)`, () => {
  const tally: Record<string, number[]> = {};
  const note = (kind: string, ms: number) => {
    tally[kind] ??= [];
    tally[kind].push(ms);
  };
  let before: Record<string, string> = {};
  let decoy = { id: "", state: "" };

  beforeAll(async () => {
    await stack.up();
    before = await stack.snapshot();
    decoy = await startDecoy(stack);
  }, 400_000);
  afterAll(async () => {
    console.log(
      `[reliability:attached] ${Object.entries(tally)
        .map(([kind, times]) => `${kind}: ${times.length} trials, worst ${Math.max(...times)} ms`)
        .join("; ")}`,
    );
    if (decoy.id)
      await rawClient()
        .getContainer(decoy.id)
        .remove({ force: true })
        .catch(() => {});
    // Faultline's containers first: one left on the stack's network would fail its removal.
    await stack.removeFaultlineContainers();
    stack.down();
    expect(await stack.snapshot()).toEqual({});
  });

  it.each(trials)(
    "trial %i: SIGKILL at a random moment of inject, then recover: the stack as it was",
    async (n) => {
      const cli = await startInjecting({ FAULTLINE_WATCHDOG: "0" });
      cli.child.kill("SIGKILL");
      await cli.result;
      const started = Date.now();
      const recovery = await runCli(["recover", "--replica", stack.project]);
      note("sigkill+recover", Date.now() - started);
      expect(recovery.code, recovery.stdout + recovery.stderr).toBe(0);
      expect(readLedger(stack.project).entries).toEqual([]);
      await stack.edgesUp();
      await stack.expectUntouched(before, `trial ${n}, after SIGKILL and recover`);
    },
  );

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it.each(trials)(`trial %i: ${signal} at a random moment of inject: the stack as it was`, async (n) => {
      const cli = await startInjecting();
      const sent = Date.now();
      cli.child.kill(signal);
      const result = await cli.result;
      note(signal, Date.now() - sent);
      expect(result.code).toBe(130);
      await stack.edgesUp();
      await stack.expectUntouched(before, `trial ${n}, after ${signal}`);
    });
  }

  it.each(trials)(
    "trial %i: SIGKILL and nobody runs recover: the dead-man's switch restores the stack",
    async (n) => {
      const cli = await startInjecting();
      const killedAt = Date.now();
      cli.child.kill("SIGKILL");
      await cli.result;
      await waitUntil(
        async () => {
          const now = await stack.snapshot();
          const left = await stack.faultlineContainers();
          const same = JSON.stringify(now) === JSON.stringify(before);
          return same && left.length === 0
            ? { done: true, value: undefined }
            : { done: false, reason: `${left.length} Faultline containers; ${JSON.stringify(now)}` };
        },
        { description: "the watchdog to restore the stack", timeoutMs: 30_000, intervalMs: 200 },
      );
      note("watchdog", Date.now() - killedAt);
      await stack.edgesUp();
      await stack.expectUntouched(before, `trial ${n}, after the dead-man's switch`);
    },
  );

  it("the other project's container came through every trial untouched", async () => {
    expect(JSON.stringify((await rawClient().getContainer(decoy.id).inspect()).State)).toBe(decoy.state);
  });
});
