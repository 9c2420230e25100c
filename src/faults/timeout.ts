import { z } from "zod";
import { duration } from "../format/unit-schemas.js";
import { formatDuration } from "../units.js";
import { faultTiming, toxicFields } from "./fields.js";
import { toxicKind } from "./toxic-link.js";

// A black hole on the link in front of a service (Toxiproxy's `timeout` toxic): no data
// passes, and connections close `after` a delay when one is given.

export const timeoutFaultSchema = z.strictObject({
  fault: z.literal("timeout"),
  ...faultTiming,
  ...toxicFields,
  direction: toxicFields.direction.default("both"),
  after: duration()
    .default(0)
    .describe("close connections after this long; 0s holds them until reverted (black hole)"),
});
export type TimeoutFault = z.infer<typeof timeoutFaultSchema>;

export const timeout = toxicKind({
  kind: "timeout",
  schema: timeoutFaultSchema,
  summary: "black-holes the link (or closes connections `after` a delay)",
  scaffold: {
    target: "edge-1",
    lines: ["after: 0s                 # 0s holds connections until reverted (black hole)"],
  },
  type: "timeout",
  disruptive: true,
  attributes: (f) => ({ timeout: Math.round(f.after) }),
  effect: (f) =>
    f.after
      ? `timeout: connections closed after ${formatDuration(f.after)} without data`
      : "black hole: no data passes",
});
