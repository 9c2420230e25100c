import { describe, expect, it } from "vitest";
import { ToxiproxyApi } from "../../src/injectors/toxiproxy.js";
import { findLeftovers } from "../../src/recovery/recover.js";
import { runCli, startCli, waitForOutput } from "../support/cli.js";
import { useReplica } from "../support/replica.js";
import { tempDir } from "../support/temp.js";

const NAME = "it-inject";
/** Journals of the CLI runs go to a temporary folder, not the checkout. */
const RUNS = tempDir("faultline-runs-");

/** p50 of `n` sequential requests through the load balancer that `edge` served. */
async function edgeP50(lb: string, edge: string, n = 30): Promise<number> {
  const times: number[] = [];
  while (times.length < n) {
    const started = performance.now();
    const response = await fetch(`${lb}/`);
    await response.arrayBuffer();
    if (response.headers.get("x-edge") === edge) times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(n / 2)] ?? Number.NaN;
}

describe("faultline inject and plan", () => {
  const replica = useReplica(NAME);

  it("plan prints the actions and their reverts without touching Docker", async () => {
    const result = await runCli(["plan", "experiments/edge-latency.yaml", "--seed", "7"], {
      DOCKER_HOST: "unix:///tmp/faultline-no-such-engine.sock",
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      "f1           +0s to +20s  latency 150ms ± 10ms on link edge-1 (downstream)",
    );
    expect(result.stdout).toContain("revert: remove the latency toxic(s) from Toxiproxy proxy edge-1");
  });

  it("holds a fault for --for, measurably, then reverts it", async () => {
    const lb = replica().endpoints.lb;
    const before = await edgeP50(lb, "edge-3");
    const cli = startCli([
      "inject",
      "latency",
      "--target",
      "edge-3",
      "--for",
      "6s",
      "--set",
      "latency=120ms",
      "--replica",
      NAME,
      "--runs-dir",
      RUNS,
    ]);
    await waitForOutput(cli, "applied f1", 20_000);
    const during = await edgeP50(lb, "edge-3", 10);
    const result = await cli.result;
    const after = await edgeP50(lb, "edge-3");
    console.log(
      `[inject] edge-3 p50 ${before.toFixed(1)} ms -> ${during.toFixed(1)} ms under 120 ms -> ${after.toFixed(1)} ms; ${result.stdout.trim()}`,
    );
    expect(result.code).toBe(0);
    expect(during - before).toBeGreaterThan(120 * 0.85);
    expect(during - before).toBeLessThan(120 * 1.15);
    expect(await new ToxiproxyApi(replica().endpoints.toxiproxy).faultlineToxics()).toEqual([]);
  });

  it("Ctrl-C reverts at once; bad parameters are refused by flag name before anything happens", async () => {
    const cli = startCli([
      "inject",
      "node-kill",
      "--target",
      "edge-1",
      "--for",
      "5m",
      "--set",
      "mode=stop",
      "--replica",
      NAME,
      "--runs-dir",
      RUNS,
    ]);
    await waitForOutput(cli, "applied f1", 30_000);
    expect(await findLeftovers(replica())).toContain("edge-1 is exited");
    const interruptedAt = Date.now();
    cli.child.kill("SIGINT");
    const result = await cli.result;
    console.log(`[inject] SIGINT to exit ${Date.now() - interruptedAt} ms, exit ${result.code}`);
    expect(result.code).toBe(130);
    expect(await findLeftovers(replica())).toEqual([]);

    const bad = await runCli([
      "inject",
      "packet-loss",
      "--target",
      "edge-1",
      "--for",
      "soon",
      "--set",
      "loss=120%",
      "--replica",
      NAME,
      "--runs-dir",
      RUNS,
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--for: expected a duration such as "150ms", "30s" or "2m", got "soon"');
    expect(bad.stderr).toContain(
      '--set loss: expected a percentage above "0%" and at most "100%", got "120%"',
    );
  });
});
