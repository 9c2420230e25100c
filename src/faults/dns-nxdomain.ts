import { z } from "zod";
import { dnsFields, dnsKind } from "./dns-kind.js";

// The name stops existing: the replica's DNS answers NXDOMAIN for it.

export const dnsNxdomainFaultSchema = z.strictObject({ fault: z.literal("dns-nxdomain"), ...dnsFields });

export const dnsNxdomain = dnsKind({
  kind: "dns-nxdomain",
  schema: dnsNxdomainFaultSchema,
  summary: "the replica's DNS answers NXDOMAIN (no such name) for the names, to the target's lookups",
  effect: () => "answer NXDOMAIN",
  action: () => ({ type: "rcode", rcode: "NXDOMAIN" }),
});
