import { z } from "zod";
import { dnsFields, dnsKind } from "./dns-kind.js";

// The name's server is broken: the replica's DNS answers SERVFAIL for it.

export const dnsServfailFaultSchema = z.strictObject({ fault: z.literal("dns-servfail"), ...dnsFields });

export const dnsServfail = dnsKind({
  kind: "dns-servfail",
  schema: dnsServfailFaultSchema,
  summary: "the replica's DNS answers SERVFAIL (server failure) for the names, to the target's lookups",
  effect: () => "answer SERVFAIL",
  action: () => ({ type: "rcode", rcode: "SERVFAIL" }),
});
