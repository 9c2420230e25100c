import { isIPv4 } from "node:net";
import { EnvironmentError } from "../errors.js";
import { NAME_PATTERN, patternSource } from "../replica/dns-zone.js";
import { execIn } from "../replica/exec.js";

// DNS faults act in the replica's DNS server, at dnsdist in front of the zone (docker/dns):
// each one is a named rule added at run time through dnsdist's console, which listens on the
// container's loopback only and is reached with `docker exec dnsdist -c` (the client reads
// the address and key from the same config file). Each rule has a deadline in dnsdist's own
// table; its maintenance hook removes the rule then, so a rule outlives no dead Faultline.

/** What a rule does to the queries (or answers) it matches. */
export type DnsAction =
  | { type: "rcode"; rcode: "NXDOMAIN" | "SERVFAIL" }
  | { type: "drop" }
  | { type: "spoof"; address: string; ttlSeconds: number }
  | { type: "delay"; ms: number }
  | { type: "ttl"; seconds: number };

export interface DnsRule {
  /** `fl-` and letters, digits, dashes: how a revert and `recover` find it. */
  name: string;
  /** Which names (NAME_PATTERN: `origin.faultline.test`, `*.faultline.test`). */
  pattern: string;
  /** Whose queries: these IPv4 addresses, or every client's when undefined. */
  clients?: string[];
  action: DnsAction;
  /** When dnsdist removes the rule by itself (epoch seconds). */
  deadline: number;
}

export const RULE_PREFIX = "fl-";
const RULE_NAME = /^fl-[a-z0-9-]{1,60}$/;

/** The Lua of the rule's match: the name pattern, and the clients when it is scoped. */
function matchOf(rule: DnsRule): string {
  const name = `RegexRule("${patternSource(rule.pattern)}")`;
  if (!rule.clients) return name;
  const masks = rule.clients.map((ip) => `"${ip}/32"`).join(", ");
  return `AndRule({${name}, makeRule({${masks}})})`;
}

function actionOf(action: DnsAction): string {
  switch (action.type) {
    case "rcode":
      return `RCodeAction(DNSRCode.${action.rcode})`;
    case "drop":
      return "DropAction()";
    case "spoof":
      return `SpoofAction({"${action.address}"}, {ttl=${action.ttlSeconds}})`;
    case "delay":
      return `DelayAction(${action.ms})`;
    case "ttl":
      return `LuaResponseAction(function(dr) dr:editTTLs(function(section, qclass, qtype, ttl) return ${action.seconds} end) return DNSResponseAction.None, "" end)`;
  }
}

/** Refuses anything that would not be a plain literal in the Lua it goes into. */
function validated(rule: DnsRule): DnsRule {
  const numbers = Object.values(rule.action).filter((v): v is number => typeof v === "number");
  const sound =
    RULE_NAME.test(rule.name) &&
    NAME_PATTERN.test(rule.pattern) &&
    (rule.clients ?? []).every((ip) => isIPv4(ip)) &&
    (rule.action.type !== "spoof" || isIPv4(rule.action.address)) &&
    [rule.deadline, ...numbers].every((n) => Number.isInteger(n) && n >= 0);
  if (!sound) throw new Error(`not a DNS rule Faultline makes: ${JSON.stringify(rule)}`);
  return rule;
}

/** The console's Lua that adds the rule, its deadline first. */
export function addRuleLua(input: DnsRule): string {
  const rule = validated(input);
  const add = rule.action.type === "ttl" ? "addResponseAction" : "addAction";
  return `faultlineExpiry["${rule.name}"] = ${rule.deadline}; ${add}(${matchOf(rule)}, ${actionOf(rule.action)}, {name="${rule.name}"})`;
}

async function console(container: string, lua: string): Promise<string> {
  const { exitCode, output } = await execIn(container, ["dnsdist", "-c", "-e", lua]);
  if (exitCode !== 0) throw new EnvironmentError(`the DNS server's console failed: ${output.trim()}`);
  return output;
}

export async function addRule(container: string, rule: DnsRule): Promise<void> {
  const output = await console(container, addRuleLua(rule));
  if (/error/i.test(output)) throw new EnvironmentError(`the DNS server refused the rule: ${output.trim()}`);
  const names = await listRules(container);
  if (!names.includes(rule.name)) throw new EnvironmentError(`the DNS server did not keep rule ${rule.name}`);
}

/** Removes the named rules (absent ones are no error); returns those that were there. */
export async function removeRules(container: string, names: readonly string[]): Promise<string[]> {
  const present = (await listRules(container)).filter((n) => names.includes(n));
  for (const name of present) validated({ name, pattern: "x", action: { type: "drop" }, deadline: 0 });
  if (present.length) await console(container, present.map((n) => `faultlineForget("${n}")`).join("; "));
  return present;
}

/** Faultline's rules in the server: query rules and response rules. */
export async function listRules(container: string): Promise<string[]> {
  const output = await console(container, "showRules(); showResponseRules()");
  const names = output
    .split("\n")
    .map((line) => /^\s*\d+\s+(\S+)/.exec(line)?.[1])
    .filter((n): n is string => n?.startsWith(RULE_PREFIX) === true);
  return [...new Set(names)];
}
