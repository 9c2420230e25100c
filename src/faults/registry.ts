import { z } from "zod";
import type { FaultKind, FaultKindModule, Leftovers } from "./fault-kind.js";

// Every fault kind Faultline knows, one line each, in the order listings show them. The
// experiment schema's union, the kind list, `recover`, the timings and the `init` scaffold
// are derived from this list; adding a kind is its module and one line here
// (docs/adding-a-fault-kind.md). Each line imports the kind's module where it is listed.
const modules = [
  (await import("./latency.js")).latency,
  (await import("./bandwidth.js")).bandwidth,
  (await import("./timeout.js")).timeout,
  (await import("./reset.js")).reset,
  (await import("./packet-loss.js")).packetLoss,
  (await import("./node-kill.js")).nodeKill,
  (await import("./partition.js")).partition,
  (await import("./stress.js")).stress,
  (await import("./origin-brownout.js")).originBrownout,
  (await import("./tls-certificate.js")).tlsCertificate,
  (await import("./tls-handshake-delay.js")).tlsHandshakeDelay,
  (await import("./tls-protocol.js")).tlsProtocol,
  (await import("./dns-nxdomain.js")).dnsNxdomain,
  (await import("./dns-servfail.js")).dnsServfail,
  (await import("./dns-timeout.js")).dnsTimeout,
  (await import("./dns-wrong-answer.js")).dnsWrongAnswer,
  (await import("./dns-delay.js")).dnsDelay,
  (await import("./dns-ttl.js")).dnsTtl,
  (await import("./clock-skew.js")).clockSkew,
  (await import("./http-route.js")).httpRoute,
] as const;

type Discriminable = z.ZodDiscriminatedUnion["options"][number];
type KindModule = FaultKindModule & { schema: Discriminable };

/** The modules' schemas as a tuple, so the union's members keep their own types. */
function schemasOf<const T extends readonly [KindModule, ...KindModule[]]>(
  list: T,
): { -readonly [I in keyof T]: T[I]["schema"] } {
  // map() loses the tuple's element types; the elements are exactly the modules' schemas.
  return list.map((m) => m.schema) as { -readonly [I in keyof T]: T[I]["schema"] };
}

/** The kind names, in the registry's order. */
export const faultKinds = modules.map((m) => m.kind);

export const faultSchema = z.discriminatedUnion("fault", schemasOf(modules), {
  error: (issue) =>
    issue.code === "invalid_union" ? `expected fault to be one of: ${faultKinds.join(", ")}` : undefined,
});
export type Fault = z.infer<typeof faultSchema>;
export type FaultKindName = Fault["fault"];

const byName: ReadonlyMap<string, FaultKind<Fault>> = new Map(
  modules.map((m) => [m.kind, m as FaultKind<Fault>]),
);

/** The module of a fault's kind, typed for that fault. */
export function kindOf<F extends Fault>(fault: F): FaultKind<F> {
  return byName.get(fault.fault) as FaultKind<F>;
}

/** The module of a kind, by its name. */
export function kindByName(name: FaultKindName): FaultKind<Fault> {
  return byName.get(name) as FaultKind<Fault>;
}

/** The module of a kind named in a ledger entry or a journal (undefined: not a kind of this version). */
export function kindNamed(name: string): FaultKind<Fault> | undefined {
  return byName.get(name);
}

/**
 * Whether a journaled fault took its target out of service: as planned, or, for journals
 * written before fault-intent carried it, as its kind judges the journaled parameters (those
 * of the parsed fault).
 */
export function wasDisruptive(intent: {
  fault: string;
  params: Record<string, unknown>;
  disruptive?: boolean | undefined;
}): boolean {
  if (intent.disruptive !== undefined) return intent.disruptive;
  const kind = byName.get(intent.fault);
  return kind ? kind.disruptive({ ...intent.params, fault: intent.fault } as Fault) : false;
}

/** Every kind's module, in the registry's order. */
export function allKinds(): readonly FaultKindModule[] {
  return modules;
}

/** Every mechanism whose leftovers `recover` finds and sweeps, once each, in sweep order. */
export function allLeftovers(): Leftovers[] {
  const unique = new Map<string, Leftovers>();
  for (const m of modules) for (const l of m.leftovers) unique.set(l.id, l);
  return [...unique.values()].sort((a, b) => a.order - b.order);
}
