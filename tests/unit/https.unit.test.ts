import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadExperiment } from "../../src/experiments/loader.js";
import { parseYamlWithSchema } from "../../src/format/located-yaml.js";
import { haproxyConfig } from "../../src/replica/configs.js";
import { loadTopology, topologyFromSpec, topologySchema } from "../../src/replica/topology-file.js";
import { tempDir } from "../support/temp.js";
import { validationMessage } from "../support/validation.js";

// tls: { terminate: lb } in a topology file: HAProxy's TLS bind, the published port, and which
// experiments may use HTTPS load and TLS checks.

const spec = (yaml: string) => parseYamlWithSchema("t.yaml", yaml, topologySchema);
const problems = (yaml: string): string => validationMessage(() => spec(yaml));

const experiment = (replica: string, extra: string) => `version: 1
name: unit-https
replica: ${replica}
load: { rate: 20/s${extra} }
steadyState:
  window: 5s
  checks:
    - tls: { endpoint: lb, measure: expiry }
      atLeast: 7d
method:
  - fault: latency
    target: edge-1
    latency: 150ms
    for: 20s
`;

describe("HTTPS at the load balancer", () => {
  it("binds TLS with ALPN h2 and publishes 443 beside 80", async () => {
    const topology = await loadTopology("topologies/https.yaml");
    expect(topology.tls).toEqual({ terminate: "lb" });
    expect(topology.services.find((s) => s.role === "lb")?.publish).toEqual([80, 8405, 443]);
    expect(haproxyConfig(topology)).toContain(
      "  bind :443 ssl crt /etc/faultline/tls/lb.pem alpn h2,http/1.1 ssl-min-ver TLSv1.2",
    );
    const plain = topologyFromSpec(spec("version: 1\nname: x\nedges: 2\n"));
    expect(plain.tls).toBeUndefined();
    expect(haproxyConfig(plain)).not.toContain("ssl");
  });

  it("refuses TLS where it is not available, located", () => {
    expect(problems("version: 1\nname: x\nedges: 2\ntls: { terminate: edges }\n")).toMatch(
      /t\.yaml:4:\d+ tls\.terminate: expected terminate: lb/,
    );
    const pops = `version: 1
name: x
pops:
  - { name: a, edges: 1 }
  - { name: b, edges: 1 }
tls: { terminate: lb }
`;
    expect(problems(pops)).toMatch(/t\.yaml:6:\d+ tls: expected tls only on a single PoP/);
  });

  it("lets HTTPS load and TLS checks run on a replica that serves HTTPS, and only there", async () => {
    const dir = tempDir("unit-https");
    const write = (name: string, text: string) => {
      const file = join(dir, name);
      writeFileSync(file, text);
      return file;
    };
    const https = resolve("topologies/https.yaml");
    const loaded = await loadExperiment(
      write("ok.yaml", experiment(https, ", https: true, connection: new")),
    );
    expect(loaded.experiment.load).toMatchObject({ https: true, connection: "new" });
    await expect(loadExperiment(write("plain.yaml", experiment("default", ", https: true")))).rejects.toThrow(
      /plain\.yaml:4:\d+ load\.https: load over HTTPS on a plain-HTTP replica: replica "default" serves HTTP only/,
    );
    await expect(loadExperiment(write("check.yaml", experiment("default", "")))).rejects.toThrow(
      /check\.yaml:8:\d+ steadyState\.checks\[0\]\.tls: a TLS check on a plain-HTTP replica/,
    );
  });
});
