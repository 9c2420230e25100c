import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readJournal } from "../../src/journal/journal.js";
import type { SuiteResult } from "../../src/run/suite.js";
import { windowStats } from "../../src/steady-state/metrics.js";
import { metricsBuckets } from "../../src/verdict/evaluation.js";
import { runCli } from "../support/cli.js";
import { leftovers } from "../support/replica.js";
import { tempDir } from "../support/temp.js";

// A replica shaped by a topology file: named edges, leastconn, and health checks four times
// faster than the built-in PoP's. An experiment names the file with `replica:`; the run
// brings the replica up from it, and a kill is detected within the faster settings' budget.

const NAME = "it-topology";

describe("topology files on the real replica", () => {
  it("an experiment on a topology file: named edges, and detection within its health-check budget", async () => {
    const dir = tempDir("faultline-topology-");
    writeFileSync(
      join(dir, "fast-checks.yaml"),
      `version: 1
name: ${NAME}
edges: [alpha, beta, gamma]
loadBalancer:
  balance: leastconn
  healthCheck: { interval: 250ms, timeout: 500ms, fall: 2, rise: 2 }
`,
    );
    writeFileSync(
      join(dir, "kill.yaml"),
      `version: 1
name: kill-on-fast-checks
replica: fast-checks.yaml
load: { rate: 40/s, warmup: 1s, timeout: 2s }
steadyState:
  window: 2s
  baseline: 2s
  recover: 3s
  verify: 2s
  checks: [{ metric: errors.rate, below: 100% }]
method:
  - { fault: node-kill, target: beta, for: 6s }
`,
    );
    const result = await runCli(["run", join(dir, "kill.yaml"), "--runs-dir", join(dir, "runs"), "--json"]);
    const suite = JSON.parse(result.stdout) as SuiteResult;
    const run = suite.runs[0];
    const detection = run?.evaluation?.timings.detection[0];
    // Requests by the edge that served them (X-Edge), over the whole run.
    const buckets = metricsBuckets(readJournal(run?.journalPath ?? ""));
    const servedBy = Object.fromEntries(
      ["alpha", "beta", "gamma"].map((edge) => [edge, windowStats(buckets, edge).count]),
    );
    const interval = 250;
    const timeout = 500;
    const fall = 2;
    const budget = fall * (interval + timeout) + interval;
    console.log(
      `[topology] ${detection?.service} killed on a replica from a topology file: detected after ${detection?.detectMs} ms (checks every ${interval} ms, timeout ${timeout} ms, fall ${fall}: at most ${budget} ms; the built-in PoP allows ${2 * (1000 + 2000) + 1000} ms); requests served ${JSON.stringify(servedBy)}; verdict ${run?.evaluation?.verdict}; exit ${result.code}`,
    );
    for (const edge of ["alpha", "beta", "gamma"]) expect(servedBy[edge]).toBeGreaterThan(0);
    expect(result.code === 0 || result.code === 5).toBe(true);
    expect(run?.report?.run.replica).toBe(NAME);
    expect(detection?.service).toBe("beta");
    expect(detection?.detectMs).not.toBeNull();
    expect(detection?.detectMs ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(budget + 250);
    // The run brought the replica up from the file, and took it down again.
    expect(await leftovers(NAME)).toEqual({ containers: [], networks: [] });
  });

  it("replica up --topology: the edges and settings of the file; a different shape is refused", async () => {
    const dir = tempDir("faultline-topology-");
    const file = join(dir, "two.yaml");
    writeFileSync(
      file,
      `version: 1\nname: ${NAME}-up\nedges: [north, south]\nloadBalancer: { balance: leastconn }\n`,
    );
    try {
      const up = await runCli(["replica", "up", "--topology", file, "--json"]);
      const status = await runCli(["replica", "status", "--replica", `${NAME}-up`, "--json"]);
      writeFileSync(file, `version: 1\nname: ${NAME}-up\nedges: 3\n`);
      const other = await runCli(["replica", "up", "--topology", file]);
      console.log(
        `[topology] up: ${up.stdout.trim().split("\n")[0]}\n[topology] a different shape: ${other.stderr.trim()}`,
      );
      expect(up.code).toBe(0);
      expect((JSON.parse(up.stdout) as { edges: string[] }).edges).toEqual(["north", "south"]);
      const services = (JSON.parse(status.stdout) as { services: { service: string; lbState?: string }[] })
        .services;
      expect(services.filter((s) => s.lbState !== undefined).map((s) => [s.service, s.lbState])).toEqual([
        ["north", "up"],
        ["south", "up"],
      ]);
      expect(other.code).toBe(2);
      expect(other.stderr).toContain(
        `replica ${NAME}-up is up with another shape than the topology asks for`,
      );
    } finally {
      await runCli(["replica", "down", "--replica", `${NAME}-up`]);
    }
    expect(await leftovers(`${NAME}-up`)).toEqual({ containers: [], networks: [] });
  });
});
