import { z } from "zod";
import { duration } from "../format/unit-schemas.js";
import { formatDuration } from "../units.js";
import { dnsFields, dnsKind } from "./dns-kind.js";

// A changed TTL: the answers for the names carry another TTL than the zone's, so clients that
// honour it (the edges' nginx does) keep an answer longer, or ask again sooner. An answer kept
// for a long TTL would outlive the rule: the revert reloads the target edges' nginx, which
// forgets it. A rule that dnsdist removes by itself (Faultline dead) cannot do that: the edges
// then keep such an answer for up to its TTL, unless `recover` runs (it reloads them).

export const dnsTtlFaultSchema = z.strictObject({
  fault: z.literal("dns-ttl"),
  ...dnsFields,
  ttl: duration('"1s", "30s" or "1h"')
    .pipe(
      z
        .number()
        // dnsdist leaves a TTL the rule rewrites to 0 as it was: 1s is the shortest it can give.
        .min(1000, { message: "expected a ttl of at least 1s (the replica's DNS cannot rewrite a TTL to 0)" })
        .max(86_400_000, { message: "expected a ttl of at most 1d" })
        .refine((ms) => ms % 1000 === 0, {
          message: "expected a ttl in whole seconds (DNS counts TTLs in seconds)",
        }),
    )
    .describe("the TTL the answers carry instead of the zone's"),
});

export const dnsTtl = dnsKind({
  kind: "dns-ttl",
  schema: dnsTtlFaultSchema,
  summary: "the replica's DNS answers for the names with another TTL, to the target's lookups",
  lines: ["ttl: 1h                    # the TTL its answers carry instead of the zone's"],
  effect: (fault) => `answer with a TTL of ${formatDuration(fault.ttl)}`,
  action: (fault) => ({ type: "ttl", seconds: fault.ttl / 1000 }),
  outlivesRule: true,
});
