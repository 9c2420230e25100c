import { z } from "zod";
import { parseBandwidth } from "../units.js";
import { faultTiming, toxicFields } from "./fields.js";
import { toxicKind } from "./toxic-link.js";

// A bandwidth cap per connection on the link in front of a service: Toxiproxy's `bandwidth`
// toxic, whose rate is in KB/s of 1000 bytes.

export const bandwidthFaultSchema = z.strictObject({
  fault: z.literal("bandwidth"),
  ...faultTiming,
  ...toxicFields,
  direction: toxicFields.direction.default("downstream"),
  rate: z
    .string({ error: 'expected a bandwidth such as "100KB/s" or "8Mbit/s"' })
    .transform((text, ctx) => {
      const value = parseBandwidth(text);
      if (value === undefined || value < 1000) {
        ctx.addIssue({
          code: "custom",
          message: `expected a bandwidth of at least 1KB/s such as "100KB/s" or "8Mbit/s", got "${text}"`,
        });
        return z.NEVER;
      }
      return value;
    })
    .describe("bytes per second allowed per connection"),
});
export type BandwidthFault = z.infer<typeof bandwidthFaultSchema>;

export const bandwidth = toxicKind({
  kind: "bandwidth",
  schema: bandwidthFaultSchema,
  summary: "caps each connection on the link to `rate` (`100KB/s`, `8Mbit/s`)",
  scaffold: {
    target: "edge-1",
    lines: ["rate: 100KB/s             # per connection", "direction: downstream"],
  },
  type: "bandwidth",
  disruptive: false,
  attributes: (f) => ({ rate: Math.max(1, Math.round(f.rate / 1000)) }),
  effect: (f) => `bandwidth ${Math.round(f.rate / 1000)}KB/s per connection`,
});
