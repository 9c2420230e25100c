import { z } from "zod";
import { dnsFields, dnsKind } from "./dns-kind.js";

// No answer at all: the replica's DNS drops the queries, and the client's resolver times out
// (the edges' nginx after 2 s, its resolver_timeout).

export const dnsTimeoutFaultSchema = z.strictObject({ fault: z.literal("dns-timeout"), ...dnsFields });

export const dnsTimeout = dnsKind({
  kind: "dns-timeout",
  schema: dnsTimeoutFaultSchema,
  summary: "the replica's DNS drops the queries for the names, so the target's lookups time out",
  effect: () => "drop the queries (no answer)",
  action: () => ({ type: "drop" }),
});
