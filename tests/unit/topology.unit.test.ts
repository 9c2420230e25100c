import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadExperiment } from "../../src/experiments/loader.js";
import { planFaults } from "../../src/experiments/plan.js";
import { parseYamlWithSchema } from "../../src/format/located-yaml.js";
import { haproxyConfig } from "../../src/replica/configs.js";
import { defaultTopology, linkTo } from "../../src/replica/topology.js";
import {
  loadTopology,
  replicaFor,
  topologyFromSpec,
  topologySchema,
} from "../../src/replica/topology-file.js";
import { validExperimentYaml } from "../support/experiments.js";
import { tempDir } from "../support/temp.js";
import { validationMessage } from "../support/validation.js";

const spec = (yaml: string) => parseYamlWithSchema("t.yaml", yaml, topologySchema);
const problems = (yaml: string): string => validationMessage(() => spec(yaml));

describe("topology files", () => {
  it("topologies/default.yaml is the built-in PoP", async () => {
    const loaded = await loadTopology("topologies/default.yaml");
    expect(loaded).toEqual({ ...defaultTopology("default", 3), balance: "roundrobin" });
  });

  it("names edges, sets the load balancer's health checks and algorithm, and renders them", () => {
    const topology = topologyFromSpec(
      spec(`version: 1
name: small
edges: [alpha, beta]
loadBalancer:
  balance: leastconn
  healthCheck: { interval: 500ms, timeout: 400ms, fall: 3, rise: 1 }
`),
    );
    expect(topology.replica).toBe("small");
    expect(topology.edges).toEqual(["alpha", "beta"]);
    expect(topology.services.filter((s) => s.role === "edge").map((s) => s.name)).toEqual(["alpha", "beta"]);
    expect(linkTo(topology, "beta")).toMatchObject({ name: "beta", upstream: { service: "beta", port: 80 } });
    const config = haproxyConfig(topology);
    expect(config).toContain("  balance leastconn");
    expect(config).toContain("  timeout check 400ms");
    expect(config).toContain("default-server inter 500 fall 3 rise 1");
    expect(config).toMatch(/server alpha toxiproxy:\d+ check/);
  });

  it("rejects duplicate or reserved edge names, bad durations and unknown fields, located", () => {
    expect(problems("version: 1\nname: x\nedges: [a, b, a]\n")).toContain(
      't.yaml:3:15 edges[2]: expected unique names; "a" (an edge) is also edges[0]',
    );
    expect(problems("version: 1\nname: x\nedges: [lb]\n")).toMatch(
      /edges\[0\]: expected a name other than lb/,
    );
    expect(
      problems("version: 1\nname: x\nedges: 2\nloadBalancer: { healthCheck: { interval: fast } }\n"),
    ).toMatch(/t\.yaml:4:42 loadBalancer\.healthCheck\.interval: expected a duration/);
    const unknown = problems("version: 1\nname: x\nedges: 2\nloadbalancer: {}\n");
    expect(unknown).toMatch(/t\.yaml:4:1 loadbalancer: unknown field "loadbalancer"/);
    expect(problems("version: 1\nname: X\nedges: 0\n")).toMatch(/name: expected a replica name/);
    expect(
      problems("version: 1\nname: x\nedges: 2\nloadBalancer: { healthCheck: { interval: 50ms } }\n"),
    ).toMatch(/loadBalancer\.healthCheck: expected interval and timeout of at least 100ms/);
  });

  it("an experiment names its topology with replica: (relative to the experiment file)", async () => {
    const dir = tempDir("faultline-topology-");
    writeFileSync(join(dir, "pop.yaml"), "version: 1\nname: two-edges\nedges: 2\n");
    const file = join(dir, "exp.yaml");
    writeFileSync(file, validExperimentYaml.replace("name: unit-test", "name: unit-test\nreplica: pop.yaml"));
    const loaded = await loadExperiment(file);
    const shape = replicaFor(loaded, undefined, 3);
    expect(shape).toMatchObject({ name: "two-edges", fromFile: true });
    expect(shape.topology.edges).toEqual(["edge-1", "edge-2"]);
    expect(replicaFor(loaded, "renamed", 3).topology).toMatchObject({
      replica: "renamed",
      network: "faultline-renamed",
    });
    // Targets are checked against the file's shape: edge-3 does not exist there.
    const third = {
      ...loaded.experiment,
      method: loaded.experiment.method.map((f) => ({
        ...f,
        target: { kind: "name" as const, name: "edge-3" },
      })),
    };
    expect(() => planFaults(third, shape.topology, 1)).toThrow(/no service "edge-3"/);

    writeFileSync(
      file,
      validExperimentYaml.replace("name: unit-test", "name: unit-test\nreplica: missing.yaml"),
    );
    await expect(loadExperiment(file)).rejects.toThrow(
      /exp\.yaml:3:10 replica: .*missing\.yaml: no such topology file/,
    );
  });
});
