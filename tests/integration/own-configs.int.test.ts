import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ToxiproxyApi } from "../../src/injectors/toxiproxy.js";
import { rawClient } from "../../src/replica/engine.js";
import { replicaDown } from "../../src/replica/replica.js";
import type { SuiteResult } from "../../src/run/suite.js";
import { runCli } from "../support/cli.js";
import { leftovers } from "../support/replica.js";
import { tempDir } from "../support/temp.js";

// examples/own-configs/ on the real engine: the user's haproxy.cfg (checks every 300ms, each
// given 300ms, fall 4), their nginx.conf on every edge, an app tier built from their
// Dockerfile behind a link of its own. A killed edge is detected within what those settings
// imply, well before the built-in PoP's checks could; the shipped default experiment runs on
// it with --topology; a config that does not start is bad input with the service's own words.

const NAME = "it-own-configs";
const EXAMPLE = "examples/own-configs";
const BUILT = ["faultline/it-own-configs.app:own", "faultline/it-own-configs-bad.app:own"];

afterAll(async () => {
  await replicaDown(NAME).catch(() => {});
  await replicaDown(`${NAME}-bad`).catch(() => {});
  await replicaDown(`${NAME}-builtin`).catch(() => {});
  for (const image of BUILT)
    await rawClient()
      .getImage(image)
      .remove()
      .catch(() => {});
  expect(await leftovers(NAME)).toEqual({ containers: [], networks: [] });
  expect(await leftovers(`${NAME}-bad`)).toEqual({ containers: [], networks: [] });
});

/** The example, copied and renamed, so this file's replica and image are its own. */
function example(): string {
  const dir = tempDir("faultline-own-configs-");
  cpSync(EXAMPLE, dir, { recursive: true });
  const file = join(dir, "topology.yaml");
  writeFileSync(file, readFileSync(file, "utf8").replace(/^name: own-configs$/m, `name: ${NAME}`));
  return file;
}

describe("a topology with the user's own configs", () => {
  const topology = example();

  it("a killed edge is detected as the user's health-check settings imply, next to the built-in PoP's", async () => {
    const dir = tempDir("faultline-own-configs-");
    writeFileSync(
      join(dir, "kill.yaml"),
      `version: 1
name: kill-on-own-configs
replica: default
load: { rate: 40/s, warmup: 1s, timeout: 2s }
steadyState:
  window: 2s
  baseline: 2s
  recover: 3s
  verify: 2s
  checks: [{ metric: errors.rate, below: 100% }]
method:
  - { fault: node-kill, target: edge-2, for: 6s }
`,
    );
    const kill = async (...flags: string[]) => {
      const runsDir = join(dir, `runs-${flags.length}`);
      const result = await runCli(["run", join(dir, "kill.yaml"), ...flags, "--runs-dir", runsDir, "--json"]);
      const run = (JSON.parse(result.stdout) as SuiteResult).runs[0];
      expect(result.code === 0 || result.code === 5, result.stderr).toBe(true);
      return run?.evaluation?.timings.detection[0];
    };
    // The same kill on the built-in PoP (its own replica, taken down by the run), then on the user's.
    const builtIn = await kill("--replica", `${NAME}-builtin`);
    const own = await kill("--topology", topology, "--keep-replica");
    const [inter, timeout, fall] = [300, 300, 4];
    // A failed check costs at most inter + timeout (a silent address); at least fall - 1
    // intervals pass between the first failed check and the last.
    const bound = fall * (inter + timeout) + inter;
    const builtInBound = 2 * (1000 + 2000) + 1000;
    console.log(
      `[own-configs] edge-2 killed under load: the user's haproxy.cfg (inter ${inter}ms, timeout check ${timeout}ms, fall ${fall}) detected it after ${own?.detectMs} ms (its settings imply ${(fall - 1) * inter} to ${bound} ms); the built-in PoP (inter 1s, timeout 2s, fall 2) after ${builtIn?.detectMs} ms (1000 to ${builtInBound} ms)`,
    );
    expect(own?.service).toBe("edge-2");
    expect(own?.detectMs ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(bound + 300);
    expect(own?.detectMs ?? 0).toBeGreaterThanOrEqual((fall - 1) * inter);
    expect(builtIn?.detectMs ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(builtInBound + 300);
    expect(await leftovers(`${NAME}-builtin`)).toEqual({ containers: [], networks: [] });
  });

  it("the shipped default experiment runs against it (--topology), /api/ reaches the app tier", async () => {
    const dir = tempDir("faultline-own-configs-");
    const status = JSON.parse((await runCli(["replica", "status", "--replica", NAME, "--json"])).stdout) as {
      endpoints: { lb: string; toxiproxy: string };
      services: { service: string; role: string; lbState?: string }[];
    };
    const api = await fetch(`${status.endpoints.lb}/api/ping`);
    const body = await api.text();
    const result = await runCli([
      "run",
      "experiments/edge-latency.yaml",
      "--topology",
      topology,
      "--runs-dir",
      join(dir, "runs"),
      "--json",
    ]);
    const run = (JSON.parse(result.stdout) as SuiteResult).runs[0];
    const inject = run?.report?.checks.find((c) => c.name === "p90 latency under 100ms");
    console.log(
      `[own-configs] edge-latency on the user's configs: verdict ${run?.evaluation?.verdict} (${run?.evaluation?.reason}), exit ${result.code}; /api/ answered ${api.status} ${body.trim()} via ${api.headers.get("x-edge")}; services ${status.services.map((s) => `${s.service}(${s.role}${s.lbState ? ` ${s.lbState}` : ""})`).join(", ")}`,
    );
    expect(api.status).toBe(200);
    expect(body).toContain('"tier":"app"');
    expect(status.services.filter((s) => s.role === "edge").map((s) => s.lbState)).toEqual([
      "up",
      "up",
      "up",
    ]);
    // What is under test is the topology, not this PoP's resilience on a shared machine: the
    // run must get past its baseline, inject, revert and judge. Passed, degraded or failed all
    // say so; inconclusive or errored would not.
    const why = `exit ${result.code}, ${run?.evaluation?.verdict}: ${run?.evaluation?.reason ?? run?.error}\n${result.stderr}`;
    expect([0, 1, 5], why).toContain(result.code);
    expect(inject, why).toBeDefined();
    expect(run?.report?.run.replica).toBe(NAME);
    expect(await new ToxiproxyApi(status.endpoints.toxiproxy).faultlineToxics()).toEqual([]);
    // The run reused the replica the kill left up (same shape), so it is this test's to remove.
    await replicaDown(NAME);
    expect(await leftovers(NAME)).toEqual({ containers: [], networks: [] });
  });

  it("an haproxy.cfg that does not start: exit 2 with HAProxy's own words, nothing left", async () => {
    const file = example();
    const cfg = join(file, "..", "haproxy.cfg");
    writeFileSync(
      cfg,
      readFileSync(cfg, "utf8").replace("balance roundrobin", "balance roundrobin\n  frobnicate on"),
    );
    writeFileSync(file, readFileSync(file, "utf8").replace(`name: ${NAME}`, `name: ${NAME}-bad`));
    const result = await runCli(["replica", "up", "--topology", file]);
    console.log(`[own-configs] a config that does not start:\n${result.stderr.trim()}`);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("lb of replica it-own-configs-bad is exited");
    expect(result.stderr).toContain("frobnicate");
    expect(result.stderr).toContain("haproxy.cfg");
    expect(await leftovers(`${NAME}-bad`)).toEqual({ containers: [], networks: [] });
  });
});
