import { z } from "zod";
import { duration, share } from "../format/unit-schemas.js";

// The fields every fault kind shares: its target and its place on the inject timeline, and the
// direction and share of the faults that act on a Toxiproxy link. Each kind's module spreads
// these into its own schema.

export const roles = ["lb", "edge", "origin"] as const;
export const popRoles = ["edge", "lb"] as const;
export const popLinks = ["uplink", "ingress"] as const;

const selectorFields = {
  pick: z
    .number()
    .int()
    .min(1, { message: "expected pick of at least 1" })
    .optional()
    .describe("choose this many at random (seeded)"),
  percent: share.optional().describe("choose this share at random (seeded), at least one"),
};

export const targetSchema = z.union(
  [
    z
      .string()
      .min(1)
      .transform((name) => ({ kind: "name" as const, name })),
    z.strictObject({ name: z.string().min(1) }).transform((t) => ({ kind: "name" as const, name: t.name })),
    z
      .strictObject({
        role: z.enum(roles, { error: `expected role to be one of ${roles.join(", ")}` }),
        ...selectorFields,
      })
      .transform((t) => ({ kind: "role" as const, role: t.role, pick: t.pick, percent: t.percent })),
    z
      .strictObject({
        pop: z.string().min(1).describe("a PoP of a multi-PoP topology"),
        role: z
          .enum(popRoles, { error: `expected role to be one of ${popRoles.join(", ")}` })
          .optional()
          .describe("edge (default): its edges; lb: its load balancer"),
        link: z
          .enum(popLinks, { error: `expected link to be one of ${popLinks.join(", ")}` })
          .optional()
          .describe("uplink: its link to the origin (or shield); ingress: the global layer's link to it"),
        ...selectorFields,
      })
      .transform((t) => ({
        kind: "pop" as const,
        pop: t.pop,
        role: t.role,
        link: t.link,
        pick: t.pick,
        percent: t.percent,
      })),
    z
      .strictObject({ labels: z.record(z.string(), z.string()), ...selectorFields })
      .transform((t) => ({ kind: "labels" as const, labels: t.labels, pick: t.pick, percent: t.percent })),
  ],
  {
    error:
      "expected a service or link name (e.g. edge-1), { role: edge, pick: 1 }, { pop: pop-b }, { pop: pop-b, link: uplink } or { labels: {...}, percent: 50% }",
  },
);
export type Target = z.infer<typeof targetSchema>;

/** `at`, `for` and `target`: spread into every kind's schema. */
export const faultTiming = {
  at: duration().default(0).describe("offset from the start of the inject phase"),
  for: duration().describe("how long the fault stays applied before Faultline reverts it"),
  target: targetSchema,
};

export const directions = ["downstream", "upstream", "both"] as const;

/** `direction` and `share`: the fields of every fault acting on a Toxiproxy link. */
export const toxicFields = {
  direction: z
    .enum(directions, { error: `expected one of ${directions.join(", ")}` })
    .describe("downstream: server to client (responses); upstream: client to server (requests)"),
  share: share.optional().describe("share of connections affected (Toxiproxy toxicity); default all"),
};
