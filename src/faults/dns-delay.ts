import { z } from "zod";
import { duration } from "../format/unit-schemas.js";
import { formatDuration } from "../units.js";
import { dnsFields, dnsKind } from "./dns-kind.js";

// Slow answers: the replica's DNS holds each answer for the names before it sends it (over
// UDP, as resolvers ask; an answer over TCP is not held).

export const dnsDelayFaultSchema = z.strictObject({
  fault: z.literal("dns-delay"),
  ...dnsFields,
  delay: duration('"200ms" or "1s"')
    .pipe(
      z
        .number()
        .int({ message: "expected a delay in whole milliseconds" })
        .min(1, { message: "expected a delay of at least 1ms" })
        .max(30_000, { message: "expected a delay of at most 30s (every resolver has given up by then)" }),
    )
    .describe("how long each answer is held"),
});

export const dnsDelay = dnsKind({
  kind: "dns-delay",
  schema: dnsDelayFaultSchema,
  summary: "the replica's DNS holds its answers for the names by `delay`, to the target's lookups",
  lines: ["delay: 500ms               # how long each answer is held"],
  effect: (fault) => `answer ${formatDuration(fault.delay)} late`,
  action: (fault) => ({ type: "delay", ms: fault.delay }),
});
