import { isIPv4 } from "node:net";
import { z } from "zod";
import { DEFAULT_DNS_TTL_SECONDS } from "../replica/topology.js";
import { dnsFields, dnsKind } from "./dns-kind.js";

// A wrong answer: the names resolve to an address where nothing listens. The address stays on
// loopback (the client's own, where nothing serves the origin's port), so the client's
// connections are refused at once and no traffic leaves the machine.

export const dnsWrongAnswerFaultSchema = z.strictObject({
  fault: z.literal("dns-wrong-answer"),
  ...dnsFields,
  address: z
    .string()
    .refine((a) => isIPv4(a) && a.startsWith("127."), {
      message:
        "expected an IPv4 address on loopback (127.0.0.0/8): a wrong answer must not send traffic off the machine",
    })
    .default("127.0.0.1")
    .describe("the address the names resolve to (loopback only; default 127.0.0.1)"),
});

export const dnsWrongAnswer = dnsKind({
  kind: "dns-wrong-answer",
  schema: dnsWrongAnswerFaultSchema,
  summary:
    "the replica's DNS answers with an address where nothing listens (loopback), to the target's lookups",
  lines: ["# address: 127.0.0.1        # where the name points instead (loopback only)"],
  effect: (fault) => `answer ${fault.address}`,
  action: (fault, topology) => ({
    type: "spoof",
    address: fault.address,
    ttlSeconds: topology.dns?.ttlSeconds ?? DEFAULT_DNS_TTL_SECONDS,
  }),
});
