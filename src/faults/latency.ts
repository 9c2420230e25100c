import { z } from "zod";
import { duration } from "../format/unit-schemas.js";
import { formatDuration } from "../units.js";
import { faultTiming, toxicFields } from "./fields.js";
import { toxicKind } from "./toxic-link.js";

// Latency on the link in front of a service: Toxiproxy's `latency` toxic, per direction.

export const latencyFaultSchema = z
  .strictObject({
    fault: z.literal("latency"),
    ...faultTiming,
    ...toxicFields,
    direction: toxicFields.direction.default("downstream"),
    latency: duration('"150ms"'),
    jitter: duration('"20ms"').default(0),
  })
  .superRefine((fault, ctx) => {
    if (fault.jitter > fault.latency) {
      ctx.addIssue({
        code: "custom",
        path: ["jitter"],
        message: "expected jitter not above latency (Toxiproxy draws latency ± jitter)",
      });
    }
  });
export type LatencyFault = z.infer<typeof latencyFaultSchema>;

export const latency = toxicKind({
  kind: "latency",
  schema: latencyFaultSchema,
  summary: "adds `latency` ± `jitter` on the Toxiproxy link in front of the target",
  scaffold: {
    target: "edge-1",
    lines: ["latency: 150ms            # added to every response", "jitter: 10ms", "direction: downstream"],
  },
  type: "latency",
  disruptive: false,
  attributes: (f) => ({ latency: Math.round(f.latency), jitter: Math.round(f.jitter) }),
  effect: (f) => `latency ${formatDuration(f.latency)}${f.jitter ? ` ± ${formatDuration(f.jitter)}` : ""}`,
});
