import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { sweepNamespace } from "../../src/injectors/netfilter.js";
import { findLeftovers } from "../../src/injectors/recover.js";
import { readLedger } from "../../src/lifecycle/ledger.js";
import { waitUntil } from "../../src/lifecycle/wait.js";
import { runCli, startCli, waitForOutput } from "../support/cli.js";
import { useReplica } from "../support/replica.js";
import { tempDir } from "../support/temp.js";

const NAME = "it-crash";

/** Three faults of three families at once, for two minutes: a crash will find them applied. */
function experimentFile(): string {
  const file = join(tempDir("faultline-crash-"), "crash.yaml");
  writeFileSync(
    file,
    `version: 1
name: it-crash
load: { rate: 10/s, warmup: 1s }
steadyState:
  window: 2s
  baseline: 2s
  checks: [{ metric: errors.rate, below: 100% }]
method:
  - { fault: latency, target: edge-1, latency: 100ms, direction: both, for: 120s }
  - { fault: node-kill, target: edge-2, mode: pause, for: 120s }
  - { fault: packet-loss, target: origin, loss: 10%, for: 120s }
`,
  );
  return file;
}

async function startAndWaitForFaults(env: NodeJS.ProcessEnv = {}) {
  const cli = startCli(["run", experimentFile(), "--replica", NAME, "--runs-dir", tempDir("runs-")], env);
  await waitForOutput(cli, "applied  f3", 60_000);
  return cli;
}

describe("crash safety on the real replica", () => {
  const replica = useReplica(NAME);

  it("SIGKILL mid-inject, then `faultline recover`: nothing is left", async () => {
    const cli = await startAndWaitForFaults({ FAULTLINE_WATCHDOG: "0" });
    cli.child.kill("SIGKILL");
    await cli.result;
    const left = await findLeftovers(replica());
    const recovery = await runCli(["recover", "--replica", NAME]);
    const after = await findLeftovers(replica());
    const chains = await sweepNamespace(replica(), "origin");
    console.log(
      `[crash+recover] after SIGKILL: ${left.length} leftovers (${left.join("; ")}); recover exit ${recovery.code}; after: ${after.length}, stray chains ${chains.length}`,
    );
    expect(left.length).toBeGreaterThanOrEqual(5);
    expect(recovery.code).toBe(0);
    expect(after).toEqual([]);
    expect(chains).toEqual([]);
    expect(readLedger(NAME).entries).toEqual([]);
  });

  it("SIGKILL mid-inject without recover: the watchdog reverts everything by itself", async () => {
    const cli = await startAndWaitForFaults();
    const killedAt = Date.now();
    cli.child.kill("SIGKILL");
    await cli.result;
    await waitUntil(
      async () => {
        const left = await findLeftovers(replica());
        return left.length === 0
          ? { done: true, value: undefined }
          : { done: false, reason: left.join("; ") };
      },
      // The dead-man's promise is "within the fault's `for` plus 10 s"; it acts on the CLI's death.
      { description: "the watchdog to revert every fault", timeoutMs: 30_000, intervalMs: 200 },
    );
    const tookMs = Date.now() - killedAt;
    console.log(
      `[crash+watchdog] every fault reverted ${tookMs} ms after SIGKILL, with nobody running recover`,
    );
    expect(tookMs).toBeLessThan(20_000);
    expect(await sweepNamespace(replica(), "origin")).toEqual([]);
  });

  it("a second run on the same replica is refused while the first holds it", async () => {
    const first = await startAndWaitForFaults();
    const second = await runCli(["run", experimentFile(), "--replica", NAME]);
    first.child.kill("SIGINT");
    const firstResult = await first.result;
    console.log(
      `[lock] second run exit ${second.code}: ${second.stderr.trim().split("\n")[0]}; first run interrupted with exit ${firstResult.code}`,
    );
    expect(second.code).toBe(4);
    expect(second.stderr).toMatch(/replica it-crash is in use by run/);
    expect(firstResult.code).toBe(130);
    expect(await findLeftovers(replica())).toEqual([]);
  });
});
