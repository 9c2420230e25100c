import { z } from "zod";
import { InvalidInputError } from "../errors.js";
import { duration, HEADER_NAME, httpMethods, share } from "../format/unit-schemas.js";
import type { Replica } from "../replica/replica.js";
import {
  LB_ROUTE_MAP,
  NGINX_ROUTE_RULE,
  NGINX_RUN_DIR,
  routesInNginx,
  type Topology,
} from "../replica/topology.js";
import { formatDuration } from "../units.js";
import type { FaultKindModule } from "./fault-kind.js";
import { faultTiming } from "./fields.js";
import { hold, type MapSetting, mapLeftovers, releaseEntry } from "./lb-map.js";

// An HTTP fault scoped to a route, on an L7 hop (a PoP's load balancer, an edge, the shield or
// the origin): for a share of the requests whose path matches a glob (and a method, and a
// header), answer a status (and a body) in the backend's place, delay them (± jitter), or
// close the connection without an answer. A load balancer's frontend reads one rule from a
// runtime map and its Lua action carries it out (src/replica/lb-lua.ts); an nginx of
// Faultline's images reads it from a file in its tmpfs, in a Lua hook (src/replica/
// route-lua.ts). The rule is held with the deadline shell every load balancer map fault
// shares (lb-map.ts), so it ends by itself at the fault's deadline.

export const ROUTE_DELAY_MAX_MS = 30_000;
const BODY_MAX_BYTES = 2048;

/** A path glob: `*` is any run of characters (slashes too); everything else is literal. */
const pathGlob = z
  .string({ error: 'expected path: a glob such as "/api/*"' })
  .regex(/^[/*][^\s?#]*$/, {
    message:
      'expected a path glob starting with "/" (or "*"), without spaces, "?" or "#": a path never holds them (the query is not part of it), so it could never match',
  })
  .max(256, { message: "expected a path glob of at most 256 characters" });

const headerMatch = z.strictObject({
  name: z
    .string({ error: "expected name: a request header's name" })
    .regex(HEADER_NAME, { message: "expected a header name (letters, digits, -)" }),
  value: z
    .string()
    .regex(/^[^\r\n]*$/, { message: "expected a header value glob on one line" })
    .max(256)
    .default("*")
    .describe("a glob the header's first value must match (default: present at all)"),
});

export const httpRouteFaultSchema = z
  .strictObject({
    fault: z.literal("http-route"),
    ...faultTiming,
    match: z
      .strictObject({
        path: pathGlob.describe('the request path, a glob: "/api/*", "/login", "*.css"'),
        method: z
          .enum(httpMethods, { error: `expected method to be one of ${httpMethods.join(", ")}` })
          .optional()
          .describe("only requests with this method (default: any)"),
        header: headerMatch.optional().describe("only requests with this header (and value glob)"),
      })
      .describe("which requests the fault acts on"),
    share: share.default(1).describe("share of the matching requests acted on (default 100%)"),
    status: z
      .number({ error: "expected status: an HTTP status code such as 503" })
      .int({ message: "expected a whole HTTP status code" })
      .min(100, { message: "expected an HTTP status from 100 to 599" })
      .max(599, { message: "expected an HTTP status from 100 to 599" })
      .optional()
      .describe("answer with this status in the backend's place"),
    body: z
      .string()
      .refine((b) => Buffer.byteLength(b) <= BODY_MAX_BYTES, { message: "expected a body of at most 2 KiB" })
      .optional()
      .describe("answer with this body in the backend's place (status 200 unless status says otherwise)"),
    delay: duration('"2s"')
      .pipe(
        z
          .number()
          .min(1, { message: "expected delay of at least 1ms" })
          .max(ROUTE_DELAY_MAX_MS, { message: "expected delay of at most 30s" }),
      )
      .optional()
      .describe("hold the request this long, then pass it on"),
    jitter: duration('"100ms"').default(0).describe("with delay: up to this much more or less, at random"),
    abort: z
      .literal(true, { error: "expected abort: true" })
      .optional()
      .describe("close the connection without an answer"),
  })
  .superRefine((fault, ctx) => {
    const actions = [
      fault.status !== undefined || fault.body !== undefined ? "status/body" : undefined,
      fault.delay !== undefined ? "delay" : undefined,
      fault.abort ? "abort" : undefined,
    ].filter((a) => a !== undefined);
    if (actions.length !== 1)
      ctx.addIssue({
        code: "custom",
        path: actions[1] === undefined ? [] : [actions[1] === "status/body" ? "status" : actions[1]],
        message: `expected exactly one action: status (and/or body), delay or abort${actions.length ? `; got ${actions.join(" and ")}` : ""}`,
      });
    if (fault.jitter > 0 && (fault.delay === undefined || fault.jitter > fault.delay))
      ctx.addIssue({
        code: "custom",
        path: ["jitter"],
        message: "expected jitter only with delay, and at most the delay",
      });
  });
export type HttpRouteFault = z.infer<typeof httpRouteFaultSchema>;

/** A glob as the Lua action matches it: runs of `*` are one `*` (the same matches, less work). */
export const compactGlob = (glob: string) => glob.replace(/\*+/g, "*");

/** Percent-encodes all but letters, digits, `_`, `.` and `-`: safe in a shell and the runtime API. */
const encode = (text: string) =>
  [...Buffer.from(text, "utf8")]
    .map((b) =>
      /[A-Za-z0-9_.-]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).padStart(2, "0").toUpperCase()}`,
    )
    .join("");

/** The rule the load balancer's Lua action reads (src/replica/lb-lua.ts). */
export function routeRule(fault: HttpRouteFault): string {
  const fields: Record<string, string | number | undefined> = {
    p: compactGlob(fault.match.path),
    m: fault.match.method,
    hn: fault.match.header?.name.toLowerCase(),
    hv: fault.match.header ? compactGlob(fault.match.header.value) : undefined,
    a: fault.abort ? "abort" : fault.delay !== undefined ? "delay" : "status",
    s: fault.status ?? (fault.body !== undefined ? 200 : undefined),
    b: fault.body,
    d: fault.delay === undefined ? undefined : Math.round(fault.delay),
    j: fault.delay === undefined ? undefined : Math.round(fault.jitter),
    r: fault.share,
  };
  return Object.entries(fields)
    .flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${encode(String(v))}`]))
    .join("&");
}

/** The rule in a load balancer with Faultline's config: its runtime map, read by its Lua action. */
const lbSetting: MapSetting = {
  id: "http-route-rules",
  prefix: "route-",
  map: LB_ROUTE_MAP,
  key: "rule",
  what: "an HTTP route fault held",
  undone: "its routes served normally again",
  on: (topology, service) => routeCapable(topology, service) === "lb",
};

/** The rule in an nginx of Faultline's images (an edge, the shield, the origin): a file its hook reads. */
const nginxSetting: MapSetting = {
  ...lbSetting,
  id: "http-route-nginx-rules",
  file: NGINX_ROUTE_RULE,
  dir: NGINX_RUN_DIR,
  on: (topology, service) => routeCapable(topology, service) === "nginx",
};

const settingFor = (topology: Topology, service: string) =>
  routeCapable(topology, service) === "nginx" ? nginxSetting : lbSetting;

/** Where a service carries out route rules ("lb", "nginx"), or why it cannot. */
function routeCapable(topology: Topology, service: string): "lb" | "nginx" | { why: string } {
  if (topology.attach) return { why: "an attached stack's services run the user's own configs" };
  const found = topology.services.find((s) => s.name === service);
  if (!found) return { why: `${service} is not a service of replica ${topology.replica}` };
  if (found.role === "lb")
    return found.own?.config
      ? { why: `${service} runs its own config (the topology file gives it one)` }
      : "lb";
  if (!["edge", "shield", "origin"].includes(found.role))
    return {
      why: `${service} is a ${found.role}, not an HTTP hop (a load balancer, an edge, the shield or the origin)`,
    };
  if (routesInNginx(topology, found)) return "nginx";
  return { why: `${service} runs the topology file's own image, config or command, not Faultline's nginx` };
}

function check(_fault: HttpRouteFault, service: string, topology: Topology): void {
  const capable = routeCapable(topology, service);
  if (typeof capable === "object")
    throw new InvalidInputError(
      `http-route acts in Faultline's own proxy configs, at run time: ${capable.why}`,
      {
        suggestion: topology.attach
          ? "on an attached stack, use node-kill, partition or the link faults (latency, reset, timeout)"
          : "target the load balancer (target: lb, or { pop: NAME, role: lb }), where every request is routed, or an edge or the origin of Faultline's images",
      },
    );
  if (capable === "lb" && topology.tls?.terminate === "edges")
    throw new InvalidInputError(
      `http-route on ${service}: this replica passes HTTPS through the load balancer to the edges (TCP), so only plain HTTP would see it`,
      {
        suggestion:
          "target an edge (which ends TLS here), use tls: { terminate: lb } (topologies/https.yaml), or a replica without tls",
      },
    );
}

function describe(fault: HttpRouteFault, service: string): string {
  const what = fault.abort
    ? "close the connection of"
    : fault.delay !== undefined
      ? `delay by ${formatDuration(fault.delay)}${fault.jitter ? ` ± ${formatDuration(fault.jitter)}` : ""}`
      : `answer ${fault.status ?? 200}${fault.body !== undefined ? " with a replaced body" : ""} to`;
  const header = fault.match.header ? ` with ${fault.match.header.name}: ${fault.match.header.value}` : "";
  return `${what} ${Math.round(fault.share * 1000) / 10}% of ${fault.match.method ?? "any"} ${fault.match.path}${header} on ${service}`;
}

export const httpRoute: FaultKindModule<typeof httpRouteFaultSchema> = {
  kind: "http-route",
  schema: httpRouteFaultSchema,
  summary:
    "an HTTP fault for one route at the load balancer, an edge or the origin: a status, a delay or an abort for a share of the requests a path glob, method and header match",
  scaffold: {
    target: "lb",
    lines: [
      'match: { path: "/api/*" }  # a glob; also method: and header: { name, value }',
      "share: 20%                # of the matching requests",
      "status: 503               # or delay: 2s (jitter:), abort: true, body:",
    ],
  },
  exclusive: () => "its one route rule",
  disruptive: () => false,
  check,
  describe,
  describeRevert: (fault, service) => `${fault.match.path} on ${service} served normally again`,
  async apply(fault, context) {
    const setting = settingFor(context.replica.topology, context.service);
    const { ttl, revert } = await hold(setting, context, routeRule(fault));
    return {
      description: `${describe(fault, context.service)} (undone by itself after ${formatDuration(ttl * 1000)})`,
      revert,
    };
  },
  async revertEntry(entry, replica: Replica) {
    return (await releaseEntry(settingFor(replica.topology, entry.service), entry, replica.topology))
      ? `routes on ${entry.service} served normally again`
      : "no HTTP route fault was held";
  },
  leftovers: [mapLeftovers(lbSetting), mapLeftovers(nginxSetting)],
};
