import { z } from "zod";
import { duration } from "../format/unit-schemas.js";
import { formatDuration } from "../units.js";
import { faultTiming, toxicFields } from "./fields.js";
import { toxicKind } from "./toxic-link.js";

// Connection resets on the link in front of a service: Toxiproxy's `reset_peer` toxic.

export const resetFaultSchema = z.strictObject({
  fault: z.literal("reset"),
  ...faultTiming,
  ...toxicFields,
  direction: toxicFields.direction.default("both"),
  after: duration()
    .default(0)
    .describe("reset connections after this long; 0s resets them as soon as data flows"),
});
export type ResetFault = z.infer<typeof resetFaultSchema>;

export const reset = toxicKind({
  kind: "reset",
  schema: resetFaultSchema,
  summary: "resets connections on the link",
  scaffold: {
    target: "edge-1",
    lines: ["after: 0s                 # reset connections as soon as data flows"],
  },
  type: "reset_peer",
  disruptive: true,
  attributes: (f) => ({ timeout: Math.round(f.after) }),
  effect: (f) => `connection resets${f.after ? ` after ${formatDuration(f.after)}` : ""}`,
});
