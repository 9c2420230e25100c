import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ToxiproxyApi } from "../../src/injectors/toxiproxy.js";
import { readJournal } from "../../src/journal/journal.js";
import { replicaDown } from "../../src/replica/replica.js";
import { startCli, waitForOutput } from "../support/cli.js";
import { leftovers, useReplica } from "../support/replica.js";
import { tempDir } from "../support/temp.js";

const NAME = "it-interrupt";

describe("interrupting a run", () => {
  const replica = useReplica(NAME);

  it("SIGINT during inject reverts the fault: no toxic is left on the Toxiproxy server", async () => {
    const dir = tempDir("faultline-int-");
    const file = join(dir, "long.yaml");
    writeFileSync(
      file,
      `version: 1
name: it-interrupt
load: { rate: 20/s, warmup: 1s }
steadyState:
  window: 2s
  baseline: 2s
  checks: [{ metric: errors.rate, below: 50% }]
method:
  - { fault: latency, target: edge-2, latency: 100ms, direction: both, for: 120s }
`,
    );
    const runsDir = join(dir, "runs");
    const cli = startCli(["run", file, "--replica", NAME, "--runs-dir", runsDir]);
    const toxiproxy = new ToxiproxyApi(replica().endpoints.toxiproxy);

    await waitForOutput(cli, "applied  f1", 60_000);
    const during = await toxiproxy.faultlineToxics();
    expect(during.map((t) => `${t.proxy}:${t.toxic.stream}`).sort()).toEqual([
      "edge-2:downstream",
      "edge-2:upstream",
    ]);

    const interruptedAt = Date.now();
    cli.child.kill("SIGINT");
    const result = await cli.result;
    const tookMs = Date.now() - interruptedAt;
    console.log(
      `[interrupt] SIGINT to exit: ${tookMs} ms; toxics before: ${during.length}, after: ${(await toxiproxy.faultlineToxics()).length}`,
    );

    expect(result.code).toBe(130);
    expect(await toxiproxy.faultlineToxics()).toEqual([]);
    const [runId] = readdirSync(runsDir);
    const events = readJournal(join(runsDir, runId ?? "", "journal.jsonl"));
    const types = events.map((e) => e.type);
    expect(types).toContain("interrupted");
    expect(types.indexOf("fault-reverted")).toBeGreaterThan(types.indexOf("interrupted"));
    expect(events.find((e) => e.type === "verdict")).toMatchObject({ verdict: "interrupted", exitCode: 130 });
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("replica down leaves no container or network with the replica's label", async () => {
    const before = await leftovers(NAME);
    expect(before.containers.length).toBe(7);
    const removed = await replicaDown(NAME);
    console.log(
      `[down] removed ${removed.containers.length} containers, ${removed.networks.length} network(s)`,
    );
    expect(await leftovers(NAME)).toEqual({ containers: [], networks: [] });
  });
});
