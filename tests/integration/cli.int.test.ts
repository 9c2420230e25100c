import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { validExperimentYaml } from "../support/experiments.js";
import { leftovers } from "../support/replica.js";
import { tempDir } from "../support/temp.js";

const STACK_FRAME = /\n\s+at /;

function tempFile(name: string, text: string): string {
  const file = join(tempDir("faultline-cli-"), name);
  writeFileSync(file, text);
  return file;
}

describe("the CLI on bad input and a broken environment", () => {
  it("validates the shipped experiments", async () => {
    const result = await runCli(["validate", "experiments/edge-latency.yaml"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ok {2}experiments\/edge-latency.yaml: edge-latency/);
  });

  it("validates topology files too, its own parts' configs included, alone or in a folder", async () => {
    const ok = await runCli(["validate", "examples/own-configs", "topologies/two-pops.yaml"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(
      /^ok {2}examples\/own-configs\/topology.yaml: topology own-configs, 3 edge\(s\)/m,
    );
    expect(ok.stdout).toMatch(
      /^ok {2}topologies\/two-pops.yaml: topology two-pops, 4 edge\(s\), PoPs pop-a, pop-b/m,
    );
    const bad = tempFile(
      "topology.yaml",
      "version: 1\nname: bad\nedges: 2\nloadBalancer:\n  config: nope.cfg\n",
    );
    const refused = await runCli(["validate", bad]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/topology\.yaml:5:11 loadBalancer\.config: .*nope\.cfg: no such file/);
    expect(refused.stderr).not.toMatch(STACK_FRAME);
  });

  it("rejects an invalid file with file, line, field and expectation, exit 2, no stack trace", async () => {
    const file = tempFile("bad.yaml", validExperimentYaml.replace("latency: 150ms", "latency: soon"));
    const result = await runCli(["validate", file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `${file}:15:14 method[0].latency: expected a duration such as "150ms", got "soon"`,
    );
    expect(result.stderr).not.toMatch(STACK_FRAME);
  });

  it("run refuses an invalid file before starting anything", async () => {
    const file = tempFile("bad.yaml", validExperimentYaml.replace("version: 1", "version: 2"));
    const result = await runCli(["run", file, "--replica", "it-never"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/bad.yaml:1:10 version: expected version: 1/);
    expect(await leftovers("it-never")).toEqual({ containers: [], networks: [] });
  });

  it("an unknown target lists the known ones, exit 2, nothing started", async () => {
    const file = tempFile(
      "unknown-target.yaml",
      validExperimentYaml.replace("target: edge-1", "target: edge-9"),
    );
    const result = await runCli(["run", file, "--replica", "it-never"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'error: method[0].target: no service "edge-9" to target in replica it-never',
    );
    expect(result.stderr).toContain(
      "try this: target one of: origin, edge-1, edge-2, edge-3, lb (or a role: lb, edge, origin)",
    );
    expect(await leftovers("it-never")).toEqual({ containers: [], networks: [] });
  });

  it("a link fault on a service without a link names the ones that have one", async () => {
    const file = tempFile("no-link.yaml", validExperimentYaml.replace("target: edge-1", "target: lb"));
    const result = await runCli(["run", file, "--replica", "it-never"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("error: method[0]: lb has no Toxiproxy link for the latency fault");
    expect(result.stderr).toContain(
      "try this: latency acts on the link in front of a service: edge-1, edge-2, edge-3, origin",
    );
  });

  it("a plan that would take every edge down is refused before anything starts", async () => {
    const file = tempFile(
      "all-edges.yaml",
      validExperimentYaml.replace(
        /method:\n[\s\S]*$/,
        "method:\n  - { fault: node-kill, target: { role: edge }, for: 10s }\n",
      ),
    );
    const result = await runCli(["run", file, "--replica", "it-never"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/leave 0 of 3 edges serving/);
    expect(await leftovers("it-never")).toEqual({ containers: [], networks: [] });
  });

  it("a missing file is invalid input", async () => {
    const result = await runCli(["run", "no/such/file.yaml"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("error: no/such/file.yaml: no such file");
  });

  it("no Docker engine: one line saying so and what to do, exit 4", async () => {
    const result = await runCli(["replica", "status"], {
      DOCKER_HOST: "unix:///tmp/faultline-no-such-engine.sock",
    });
    expect(result.code).toBe(4);
    const lines = result.stderr.trim().split("\n");
    expect(lines[0]).toMatch(
      /^error: no Docker engine is reachable at unix:\/\/\/tmp\/faultline-no-such-engine.sock/,
    );
    expect(lines[1]).toMatch(/^try this: run scripts\/setup.sh/);
    expect(result.stderr).not.toMatch(STACK_FRAME);
  });

  it("--debug adds the stack trace", async () => {
    const result = await runCli(["replica", "status", "--debug"], {
      DOCKER_HOST: "unix:///tmp/faultline-no-such-engine.sock",
    });
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(STACK_FRAME);
  });

  it("--json errors are JSON on stdout", async () => {
    const result = await runCli(["replica", "status", "--json"], {
      DOCKER_HOST: "unix:///tmp/faultline-no-such-engine.sock",
    });
    expect(result.code).toBe(4);
    expect(JSON.parse(result.stdout)).toMatchObject({ error: { exitCode: 4, type: "EnvironmentError" } });
  });

  it("documents exit codes in run --help", async () => {
    const result = await runCli(["run", "--help"]);
    expect(result.code).toBe(0);
    const help = result.stdout.replace(/\s+/g, " ");
    for (const code of [
      "130 interrupted",
      "2 invalid input",
      "4 environment or tool error",
      "1 failed",
      "6 aborted",
      "7 a gate failed",
      "3 inconclusive",
      "5 degraded",
      "0 passed",
    ])
      expect(help).toContain(code);
  });
});
