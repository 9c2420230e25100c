import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectReplica, edgeStates, popStates, replicaDown, replicaUp } from "../../src/replica/replica.js";
import { loadTopology } from "../../src/replica/topology-file.js";
import type { SuiteResult } from "../../src/run/suite.js";
import { runCli } from "../support/cli.js";
import { leftovers } from "../support/replica.js";
import { tempDir } from "../support/temp.js";

// examples/own-configs/two-pops.yaml on the real engine: the user's global haproxy.cfg (checks
// every 250ms, each given 250ms, fall 3: not the built-in global layer's 1s, 2s, fall 2), the
// user's load balancer for pop-a (checks every 300ms, each given 300ms, fall 2) and their
// nginx config for the shield. Clients are served through the user's global layer; a
// whole-PoP kill is detected by it within the bound its settings and pop-a's imply.

const NAME = "it-own-multipop";
const EXAMPLE = "examples/own-configs";

/** The example, copied and renamed, so this file's replica is its own. */
function example(): string {
  const dir = tempDir("faultline-own-multipop-");
  cpSync(EXAMPLE, dir, { recursive: true });
  const file = join(dir, "two-pops.yaml");
  writeFileSync(file, readFileSync(file, "utf8").replace(/^name: own-two-pops$/m, `name: ${NAME}`));
  return file;
}

describe("a two-PoP topology with the user's own global layer, PoP load balancer and shield", () => {
  const topology = example();
  beforeAll(async () => {
    const up = await replicaUp({ topology: await loadTopology(topology) });
    console.log(
      `[own-multipop] replica up in ${up.tookMs} ms: ${up.replica.topology.services.length} services`,
    );
  });
  afterAll(async () => {
    await replicaDown(NAME).catch(() => {});
    expect(await leftovers(NAME)).toEqual({ containers: [], networks: [] });
  });

  it("serves through the user's global layer; both views (its PoPs, the PoPs' edges) are read from the user's stats pages", async () => {
    const replica = await connectReplica(NAME);
    const response = await fetch(`${replica.endpoints.lb}/`);
    await response.text();
    const api = await fetch(`${replica.endpoints.lb}/api/own`);
    await api.text();
    const pops = await popStates(replica);
    const edges = await edgeStates(replica);
    console.log(
      `[own-multipop] GET / via the user's global layer: ${response.status} from ${response.headers.get("x-pop")} (${response.headers.get("x-edge")}); /api/ ${api.status}, shield said ${api.headers.get("x-shield")}; PoPs ${JSON.stringify(Object.fromEntries(pops))}; edges ${JSON.stringify(Object.fromEntries(edges))}`,
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("x-pop")).toBe("pop-a");
    expect(api.status).toBe(200);
    expect(api.headers.get("x-shield")).toBe("shield");
    expect(Object.fromEntries(pops)).toEqual({ "pop-a": "up", "pop-b": "up" });
    expect([...edges.values()]).toEqual(["up", "up", "up", "up"]);
  });

  it("a whole-PoP kill is detected by the user's global layer within the bound its settings imply", async () => {
    const dir = tempDir("faultline-own-multipop-");
    writeFileSync(
      join(dir, "kill.yaml"),
      `version: 1
name: whole-pop-kill-own
replica: default
load: { rate: 50/s, warmup: 2s, timeout: 2s }
steadyState:
  window: 3s
  baseline: 3s
  recover: 8s
  verify: 3s
  checks: [{ metric: errors.rate, below: 100% }]
safety: { minHealthyEdges: 1 }
method:
  - { fault: node-kill, target: { pop: pop-a }, for: 10s }
`,
    );
    const result = await runCli([
      "run",
      join(dir, "kill.yaml"),
      "--topology",
      topology,
      "--keep-replica",
      "--runs-dir",
      join(dir, "runs"),
      "--no-history",
      "--json",
    ]);
    const run = (JSON.parse(result.stdout) as SuiteResult).runs[0];
    const pops = run?.evaluation?.timings.pops;
    const failover = pops?.failovers[0];
    // pop-a's load balancer (the user's: inter 300ms, timeout 300ms, fall 2) marks both edges
    // down within fall x (inter + timeout) + inter; its health path then fails at once, and
    // the user's global layer (inter 250ms, fall 3) needs fall x inter + inter more. At least
    // (fall - 1) intervals pass at each.
    const edgeBound = 2 * (300 + 300) + 300;
    const globalBound = 3 * 250 + 250;
    const bound = edgeBound + globalBound;
    const floor = (2 - 1) * 300 + (3 - 1) * 250;
    const builtInBound = 2 * (500 + 1000) + 500 + (2 * 1000 + 1000);
    console.log(
      `[own-multipop] pop-a killed under 50/s: the user's global layer (inter 250ms, timeout check 250ms, fall 3) marked it down after ${failover?.detectMs} ms (its settings and pop-a's imply ${floor} to ${bound} ms; the built-in global layer's defaults with topologies/two-pops.yaml's PoP checks would allow up to ${builtInBound} ms); traffic moved within ${failover?.movedMs} ms; during the move ${failover?.duringMove.errors} of ${failover?.duringMove.requests} failed; back in rotation ${failover?.backInRotationMs} ms after the revert; share ${JSON.stringify(pops?.share)}; exit ${result.code}`,
    );
    expect(result.code === 0 || result.code === 5, result.stderr).toBe(true);
    expect(failover).toMatchObject({ pop: "pop-a", kind: "node-kill" });
    expect(failover?.detectMs ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(bound + 250);
    expect(failover?.detectMs ?? 0).toBeGreaterThanOrEqual(floor);
    expect(failover?.movedMs).not.toBeNull();
    expect(failover?.backInRotationMs).not.toBeNull();
    expect(pops?.share.baseline?.["pop-a"]).toBeGreaterThan(0.99);
    expect(pops?.share.inject?.["pop-b"]).toBeGreaterThan(0.5);
    await replicaDown(NAME);
    expect(await leftovers(NAME)).toEqual({ containers: [], networks: [] });
  });
});
