import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadExperiment } from "../../src/experiments/loader.js";
import { faultSchema } from "../../src/experiments/schema.js";
import { kindOf } from "../../src/faults/registry.js";
import { parseLocated, parseYamlWithSchema } from "../../src/format/located-yaml.js";
import {
  edgeConfig,
  edgeOriginTls,
  edgeStartCommand,
  HANDSHAKE_DELAY_LUA,
  haproxyConfig,
  originStartCommand,
} from "../../src/replica/configs.js";
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
      "  bind abns@faultline-tls accept-proxy ssl crt /etc/faultline/tls/lb.pem alpn h2,http/1.1 ssl-min-ver TLSv1.2",
    );
    const plain = topologyFromSpec(spec("version: 1\nname: x\nedges: 2\n"));
    expect(plain.tls).toBeUndefined();
    expect(haproxyConfig(plain)).not.toContain("ssl");
    expect(haproxyConfig(plain)).not.toContain("tls-front");
    expect(haproxyConfig(plain)).not.toContain("handshake-delay");
  });

  it("puts a TCP front on 443 that delays handshakes and picks the offered version from its maps", async () => {
    const config = haproxyConfig(await loadTopology("topologies/https.yaml"));
    const block = (name: string) => {
      const start = config.indexOf(`\n${name}\n`);
      return config.slice(start + 1, config.indexOf("\n\n", start + 1)).split("\n");
    };
    expect(config).toContain("  lua-load /etc/faultline/tls/handshake-delay.lua");
    expect(block("frontend tls-front")).toEqual([
      "frontend tls-front",
      "  mode tcp",
      "  bind :443",
      "  tcp-request inspect-delay 11000ms",
      "  tcp-request content set-var(txn.handshake_delay) str(delay),map_str_int(/etc/faultline/tls/handshake-delay.map,0)",
      "  tcp-request content lua.faultline_handshake_delay if { var(txn.handshake_delay) -m int gt 0 } { req.len gt 0 }",
      "  use_backend tls-offer-%[str(offer),map(/etc/faultline/tls/offer.map,default)]",
      "  default_backend tls-offer-default",
    ]);
    // Each offer reaches its own bind over an internal socket, the client's address in PROXY v2.
    for (const offer of ["default", "TLSv1.0", "TLSv1.1", "TLSv1.2"])
      expect(block(`backend tls-offer-${offer}`)).toContain(
        `  server pop abns@faultline-tls${offer === "default" ? "" : `-${offer}`} send-proxy-v2`,
      );
    const pop = block("frontend pop");
    expect(pop).toContain("  bind :80");
    expect(pop).toContain(
      "  bind abns@faultline-tls-TLSv1.1 accept-proxy ssl crt /etc/faultline/tls/lb.pem alpn http/1.1 ssl-min-ver TLSv1.1 ssl-max-ver TLSv1.1 ciphers DEFAULT@SECLEVEL=0",
    );
    expect(pop).toContain(
      "  bind abns@faultline-tls-TLSv1.2 accept-proxy ssl crt /etc/faultline/tls/lb.pem alpn h2,http/1.1 ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.2",
    );
    expect(pop.filter((line) => line.includes(":443"))).toEqual([]);
    expect(HANDSHAKE_DELAY_LUA).toContain('core.register_action("faultline_handshake_delay", { "tcp-req" }');
    expect(HANDSHAKE_DELAY_LUA).toContain('txn:get_var("txn.handshake_delay")');
  });

  it("bounds the TLS fault kinds' fields, and plans them on the load balancer only", async () => {
    const parse = (yaml: string) => parseLocated("f.yaml", yaml, faultSchema).data;
    const message = (yaml: string) => validationMessage(() => parse(yaml));
    const delay = parse("fault: tls-handshake-delay\ntarget: lb\nfor: 10s\ndelay: 200ms\n");
    expect(delay).toMatchObject({ fault: "tls-handshake-delay", delay: 200 });
    expect(parse("fault: tls-handshake-delay\ntarget: lb\nfor: 10s\ndelay: 10s\n")).toMatchObject({
      delay: 10_000,
    });
    expect(parse("fault: tls-handshake-delay\ntarget: lb\nfor: 10s\ndelay: 1ms\n")).toMatchObject({
      delay: 1,
    });
    expect(message("fault: tls-handshake-delay\ntarget: lb\nfor: 10s\ndelay: 11s\n")).toMatch(
      /f\.yaml:4:\d+ delay: expected delay of at most 10s/,
    );
    expect(message("fault: tls-handshake-delay\ntarget: lb\nfor: 10s\ndelay: 0ms\n")).toMatch(
      /f\.yaml:4:\d+ delay: expected delay of at least 1ms/,
    );
    expect(message("fault: tls-handshake-delay\ntarget: lb\nfor: 10s\n")).toMatch(/delay/);
    expect(parse("fault: tls-protocol\ntarget: lb\nfor: 10s\n")).toMatchObject({ offer: "TLSv1.1" });
    expect(parse("fault: tls-protocol\ntarget: lb\nfor: 10s\noffer: TLSv1.2\n")).toMatchObject({
      offer: "TLSv1.2",
    });
    expect(message("fault: tls-protocol\ntarget: lb\nfor: 10s\noffer: TLSv1.3\n")).toMatch(
      /f\.yaml:4:\d+ offer: expected offer to be one of TLSv1.0, TLSv1.1, TLSv1.2/,
    );
    const https = await loadTopology("topologies/https.yaml");
    const plain = topologyFromSpec(spec("version: 1\nname: x\nedges: 2\n"));
    const protocol = parse("fault: tls-protocol\ntarget: lb\nfor: 10s\n");
    for (const fault of [delay, protocol]) {
      expect(() => kindOf(fault).check(fault, "lb", https)).not.toThrow();
      expect(() => kindOf(fault).check(fault, "edge-1", https)).toThrow(
        /on a target that does not terminate TLS: edge-1 serves no TLS/,
      );
      expect(() => kindOf(fault).check(fault, "lb", plain)).toThrow(
        /lb serves no TLS \(replica x serves plain HTTP\)/,
      );
      expect(kindOf(fault).disruptive(fault)).toBe(false);
    }
    expect(kindOf(delay).describe(delay, "lb", https)).toBe("delay every new TLS handshake on lb by 200ms");
    expect(kindOf(protocol).describe(protocol, "lb", https)).toBe(
      "offer only TLSv1.1 to new TLS connections on lb",
    );
  });

  it("refuses TLS where it is not available, located", () => {
    expect(problems("version: 1\nname: x\nedges: 2\ntls: { terminate: origin }\n")).toMatch(
      /t\.yaml:4:\d+ tls\.terminate: expected terminate: lb .* or edges/,
    );
    expect(
      problems("version: 1\nname: x\nedges: 2\ntls: { terminate: edges }\nedge: { image: mine:1 }\n"),
    ).toMatch(/tls\.terminate: expected terminate: edges only with Faultline's edges/);
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

describe("origin pull over TLS", () => {
  it("moves the origin's link to 443, makes the edges verify it, and restores the sound config at start", async () => {
    const topology = await loadTopology("topologies/https-origin-pull.yaml");
    expect(topology.tls).toEqual({ terminate: "lb", originPull: true });
    expect(topology.links.find((l) => l.name === "origin")?.upstream).toEqual({
      service: "origin",
      port: 443,
    });
    const originTls = edgeOriginTls(topology);
    const config = edgeConfig("edge-1", { ...(originTls ? { originTls } : {}) });
    expect(config).toContain("proxy_pass https://origin;");
    expect(config).toContain("proxy_ssl_verify on;");
    expect(config).toContain("proxy_ssl_name origin.faultline.test;");
    expect(originStartCommand().join(" ")).toContain("listen 443 ssl;");
  });

  it("is refused with the user's own origin", () => {
    const problems = validationMessage(() =>
      parseYamlWithSchema(
        "t.yaml",
        "version: 1\nname: t\nedges: 2\norigin: { image: my/origin:1 }\ntls: { terminate: lb, originPull: true }",
        topologySchema,
      ),
    );
    expect(problems).toContain("expected originPull only with Faultline's origin");
  });
});

describe("HTTPS at the edges", () => {
  const edges = topologyFromSpec(spec("version: 1\nname: e\nedges: 2\ntls: { terminate: edges }\n"));

  it("links each edge's 443, passes 443 through, re-encrypts port 80 with verification", () => {
    expect(
      edges.links.filter((l) => l.upstream.service.startsWith("edge-")).map((l) => l.upstream.port),
    ).toEqual([443, 443]);
    const lb = haproxyConfig(edges);
    expect(lb).toContain("backend edges-tls\n  mode tcp");
    expect(lb).toContain("  default_backend edges-tls");
    expect(lb).not.toContain("ssl crt");
    expect(lb).toMatch(
      /backend edges\n[\s\S]*ssl verify required ca-file \/etc\/faultline\/tls\/ca\.pem sni str\(pop\.faultline\.test\)/,
    );
    expect(lb).toMatch(/backend edges-tls[\s\S]*check-ssl verify none check-sni pop\.faultline\.test/);
    expect(lb).toContain("lua.faultline_handshake_delay");
  });

  it("makes each edge serve TLS and HTTP/2 from a config its start command writes", () => {
    expect(edgeConfig("edge-1", {}, true)).toContain("include /etc/faultline/tls/edge-tls.conf;");
    expect(edgeConfig("edge-1", {})).not.toContain("include");
    expect(edgeStartCommand().join(" ")).toContain("listen 443 ssl http2;");
  });

  it("takes certificate faults on edges, handshake delays on the lb, and refuses the rest", () => {
    const certificate = faultSchema.parse({
      fault: "tls-certificate",
      target: "edge-1",
      flaw: "expired",
      for: "5s",
    });
    const protocol = faultSchema.parse({ fault: "tls-protocol", target: "lb", for: "5s" });
    const delay = faultSchema.parse({
      fault: "tls-handshake-delay",
      target: "lb",
      delay: "200ms",
      for: "5s",
    });
    expect(() => kindOf(certificate).check(certificate, "edge-1", edges)).not.toThrow();
    expect(() => kindOf(delay).check(delay, "lb", edges)).not.toThrow();
    expect(() => kindOf(certificate).check(certificate, "lb", edges)).toThrow(
      /lb passes TLS through to the edges/,
    );
    expect(() => kindOf(protocol).check(protocol, "lb", edges)).toThrow(
      /needs TLS to end at the load balancer/,
    );
    expect(() => kindOf(delay).check(delay, "edge-1", edges)).toThrow(/TCP front on 443, not on edge-1/);
  });
});
