import {
  DEFAULT_DNS_TTL_SECONDS,
  DNS_SERVICE,
  DNS_ZONE,
  linkAddress,
  linkTo,
  ORIGIN_SERVER_NAME,
  POP_SERVER_NAME,
  type Topology,
} from "./topology.js";

// The zone the replica's DNS serves (topology `dns:`), as records naming the service whose
// address each name has: the DNS container looks the addresses up itself and follows them
// when a container comes back with another one (docker/dns/faultline-dns.sh).

export interface ZoneRecord {
  /** Fully qualified, without the trailing dot. */
  name: string;
  /** The service (container alias) whose address the name resolves to. */
  service: string;
}

/** The host part of a link's address: where its clients connect. */
function hostOf(address: string): string {
  return address.slice(0, address.lastIndexOf(":"));
}

/** The zone's records: the origin (through its link), the PoP, each edge, the DNS itself. */
export function zoneRecords(topology: Topology): ZoneRecord[] {
  const origin = linkTo(topology, "origin");
  const lb = topology.services.find((s) => s.role === "lb");
  return [
    ...(origin ? [{ name: ORIGIN_SERVER_NAME, service: hostOf(linkAddress(origin)) }] : []),
    ...(lb ? [{ name: POP_SERVER_NAME, service: lb.name }] : []),
    ...topology.edges.map((edge) => ({ name: `${edge}.${DNS_ZONE}`, service: edge })),
    { name: `${DNS_SERVICE}.${DNS_ZONE}`, service: DNS_SERVICE },
  ];
}

/** The DNS container's config: "name. ttl service" lines. */
export function dnsZoneSpec(topology: Topology): string {
  const ttl = topology.dns?.ttlSeconds ?? DEFAULT_DNS_TTL_SECONDS;
  return zoneRecords(topology)
    .map((r) => `${r.name}. ${ttl} ${r.service}`)
    .join("\n");
}

/** What a name pattern may hold: the letters of host names, and `*` for any run of them. */
export const NAME_PATTERN = /^[a-z0-9*]([a-z0-9*.-]*[a-z0-9*])?$/;

/**
 * A name pattern (`origin.faultline.test`, `*.faultline.test`) as an anchored regular
 * expression that means the same in JavaScript and in POSIX extended syntax (dnsdist's
 * RegexRule, which matches names without their trailing dot, ignoring case).
 */
export function patternSource(pattern: string): string {
  const body = pattern
    .toLowerCase()
    .split("")
    .map((c) => (c === "." ? "[.]" : c === "*" ? "[a-z0-9.-]*" : c))
    .join("");
  return `^${body}$`;
}

/** The zone's names a pattern matches. */
export function namesMatching(topology: Topology, pattern: string): string[] {
  const re = new RegExp(patternSource(pattern), "i");
  return zoneRecords(topology)
    .map((r) => r.name)
    .filter((name) => re.test(name));
}
