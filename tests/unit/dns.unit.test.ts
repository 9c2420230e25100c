import { describe, expect, it } from "vitest";
import { faultSchema } from "../../src/experiments/schema.js";
import { kindByName } from "../../src/faults/registry.js";
import { parseYamlWithSchema } from "../../src/format/located-yaml.js";
import { addRuleLua, type DnsRule } from "../../src/injectors/dns.js";
import { edgeConfig, edgeDnsUpstream } from "../../src/replica/configs.js";
import { dnsZoneSpec, namesMatching, patternSource } from "../../src/replica/dns-zone.js";
import { defaultTopology } from "../../src/replica/topology.js";
import { loadTopology, topologySchema } from "../../src/replica/topology-file.js";
import { validationMessage } from "../support/validation.js";

// DNS in the replica (topology `dns:`): the zone, the edges' resolver, the rules DNS faults add
// to dnsdist, and the located errors of the DNS kinds.

const problems = (yaml: string): string =>
  validationMessage(() => parseYamlWithSchema("t.yaml", `version: 1\nname: t\n${yaml}`, topologySchema));

describe("the replica's DNS", () => {
  it("serves the origin's link, the PoP, each edge and itself, with the topology's TTL", async () => {
    const topology = await loadTopology("topologies/dns.yaml");
    expect(topology.dns).toEqual({ ttlSeconds: 5 });
    expect(topology.services.map((s) => s.name)).toEqual([
      "toxiproxy",
      "origin",
      "edge-1",
      "edge-2",
      "edge-3",
      "lb",
      "dns",
      "prometheus",
    ]);
    expect(dnsZoneSpec(topology).split("\n")).toEqual([
      "origin.faultline.test. 5 toxiproxy",
      "pop.faultline.test. 5 lb",
      "edge-1.faultline.test. 5 edge-1",
      "edge-2.faultline.test. 5 edge-2",
      "edge-3.faultline.test. 5 edge-3",
      "dns.faultline.test. 5 dns",
    ]);
  });

  it("makes the edges resolve the origin at request time through it, with a short resolver timeout", async () => {
    const topology = await loadTopology("topologies/dns.yaml");
    const dns = edgeDnsUpstream(topology);
    expect(dns).toEqual({ upstream: "origin.faultline.test:21000", resolver: "dns" });
    const config = edgeConfig("edge-1", dns);
    expect(config).toContain("resolver dns ipv6=off;");
    expect(config).toContain("resolver_timeout 2s;");
    expect(config).toContain("set $origin_upstream origin.faultline.test:21000;");
    expect(config).toContain("proxy_pass http://$origin_upstream;");
    expect(config).not.toContain("upstream origin {");
    expect(edgeDnsUpstream(defaultTopology())).toBeUndefined();
    expect(edgeConfig("edge-1")).toContain("proxy_pass http://origin;");
  });

  it("refuses a TTL out of bounds, and dns with several PoPs or the user's own edge config", () => {
    expect(problems("edges: 2\ndns: { ttl: 500ms }")).toContain("expected a ttl of at least 1s");
    expect(problems("edges: 2\ndns: { ttl: 2h }")).toContain("expected a ttl of at most 1h");
    expect(problems("pops: [{ name: a, edges: 1 }, { name: b, edges: 1 }]\ndns: {}")).toContain(
      "expected dns only on a single PoP",
    );
    expect(
      problems("edges: 2\nedge: { config: { file: e.conf, at: /etc/nginx/nginx.conf } }\ndns: {}"),
    ).toContain("expected dns only with Faultline's edge config");
    expect(problems("edges: 2\nservices: { dns: { image: x } }\ndns: {}")).toContain(
      "expected a name other than",
    );
  });

  it("name patterns mean the same to the zone check and to dnsdist's regex", async () => {
    const topology = await loadTopology("topologies/dns.yaml");
    expect(patternSource("*.faultline.test")).toBe("^[a-z0-9.-]*[.]faultline[.]test$");
    expect(namesMatching(topology, "origin.faultline.test")).toEqual(["origin.faultline.test"]);
    expect(namesMatching(topology, "edge-*.faultline.test")).toHaveLength(3);
    expect(namesMatching(topology, "*.faultline.test")).toHaveLength(6);
    expect(namesMatching(topology, "originXfaultline.test")).toEqual([]);
  });
});

describe("DNS rules", () => {
  const rule = (action: DnsRule["action"], clients?: string[]): DnsRule => ({
    name: "fl-0123456789ab",
    pattern: "origin.faultline.test",
    ...(clients ? { clients } : {}),
    action,
    deadline: 1_800_000_000,
  });

  it("are dnsdist Lua with their deadline first, scoped to clients when the target is one", () => {
    expect(addRuleLua(rule({ type: "rcode", rcode: "NXDOMAIN" }, ["172.18.0.5"]))).toBe(
      'faultlineExpiry["fl-0123456789ab"] = 1800000000; addAction(AndRule({RegexRule("^origin[.]faultline[.]test$"), makeRule({"172.18.0.5/32"})}), RCodeAction(DNSRCode.NXDOMAIN), {name="fl-0123456789ab"})',
    );
    expect(addRuleLua(rule({ type: "drop" }))).toContain(
      'addAction(RegexRule("^origin[.]faultline[.]test$"), DropAction()',
    );
    expect(addRuleLua(rule({ type: "spoof", address: "127.0.0.1", ttlSeconds: 5 }))).toContain(
      'SpoofAction({"127.0.0.1"}, {ttl=5})',
    );
    expect(addRuleLua(rule({ type: "delay", ms: 300 }))).toContain("DelayAction(300)");
    expect(addRuleLua(rule({ type: "ttl", seconds: 60 }))).toMatch(
      /^faultlineExpiry.*addResponseAction\(.*return 60 end/,
    );
  });

  it("refuse anything that would not be a plain literal in the Lua", () => {
    const bad: DnsRule[] = [
      { ...rule({ type: "drop" }), name: 'fl-x"); os.exit(1) --' },
      { ...rule({ type: "drop" }), pattern: 'a"b' },
      rule({ type: "drop" }, ["172.18.0.5/32"]),
      rule({ type: "spoof", address: '127.0.0.1"}', ttlSeconds: 5 }),
      rule({ type: "delay", ms: 1.5 }),
    ];
    for (const r of bad) expect(() => addRuleLua(r)).toThrow(/not a DNS rule Faultline makes/);
  });
});

describe("DNS fault kinds", () => {
  const fault = (fields: Record<string, unknown>) =>
    faultSchema.parse({
      fault: "dns-nxdomain",
      target: "edge-1",
      for: "10s",
      name: "origin.faultline.test",
      ...fields,
    });

  it("say what they do, to whose lookups", async () => {
    const topology = await loadTopology("topologies/dns.yaml");
    const f = fault({});
    const kind = kindByName("dns-nxdomain");
    expect(kind.describe(f, "edge-1", topology)).toBe(
      "answer NXDOMAIN to edge-1's lookups of origin.faultline.test",
    );
    expect(kind.describe(f, "dns", topology)).toBe(
      "answer NXDOMAIN to every client's lookups of origin.faultline.test",
    );
    const delay = fault({ fault: "dns-delay", delay: "300ms" });
    expect(kindByName("dns-delay").describe(delay, "edge-2", topology)).toBe(
      "answer 300ms late to edge-2's lookups of origin.faultline.test",
    );
  });

  it("refuse a replica without DNS, a target that is no client, and a name the zone does not have", async () => {
    const topology = await loadTopology("topologies/dns.yaml");
    const kind = kindByName("dns-servfail");
    const f = fault({ fault: "dns-servfail" });
    expect(() => kind.check(f, "edge-1", defaultTopology())).toThrow(
      /a DNS fault on a replica without its own DNS/,
    );
    expect(() => kind.check(f, "lb", topology)).toThrow(/lb resolves nothing through the replica's DNS/);
    expect(() =>
      kind.check(fault({ fault: "dns-servfail", name: "cdn.example.com" }), "edge-1", topology),
    ).toThrow(/a name the zone does not have: cdn.example.com/);
    expect(() => kind.check(f, "dns", topology)).not.toThrow();
  });

  it("bound their own fields", () => {
    const message = (fields: Record<string, unknown>) =>
      faultSchema.safeParse({ target: "edge-1", for: "10s", name: "origin.faultline.test", ...fields }).error
        ?.issues[0]?.message;
    expect(message({ fault: "dns-delay", delay: "31s" })).toContain("at most 30s");
    expect(message({ fault: "dns-ttl", ttl: "25h" })).toContain("at most 1d");
    expect(message({ fault: "dns-ttl", ttl: "0s" })).toContain("at least 1s");
    expect(message({ fault: "dns-wrong-answer", address: "10.0.0.1" })).toContain("on loopback");
    expect(message({ fault: "dns-nxdomain", name: "bad name" })).toContain("expected name to be a host name");
  });
});
