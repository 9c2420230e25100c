import { z } from "zod";
import { duration, HEADER_NAME, rate, httpMethods as requestMethods, share } from "../format/unit-schemas.js";
import { formatDuration, parseRate } from "../units.js";

// The load an experiment drives: a weighted mix of named requests, a share of cache-busting
// ones, a rate that is constant or follows stages (k6's `duration` and `target`), and how
// connections are used. The output is what the load driver needs, with every default filled.

export { httpMethods as requestMethods } from "../format/unit-schemas.js";

const HOSTNAME =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:\d{1,5})?$/i;
/** The query parameter the driver adds to make a cache-busting request's URL unique. */
export const CACHE_BUST_PARAM = "faultline-bust";
const MAX_BODY_BYTES = 64 * 1024;

const path = z
  .string()
  .max(2048, { message: "expected a path of at most 2048 characters" })
  .regex(/^\/(?!\/)[^\s#\\]*$/, {
    message: 'expected a URL path starting with one "/", without spaces, backslashes or a #fragment',
  })
  .refine((p) => !p.includes(`${CACHE_BUST_PARAM}=`), {
    message: `expected a path without the ${CACHE_BUST_PARAM} parameter (Faultline adds it for cacheBust)`,
  });

/** Headers the transport sets itself: written by hand they would conflict on the wire. */
const TRANSPORT_HEADERS = new Set(["host", "content-length", "transfer-encoding", "connection"]);

/** Request headers: names as HTTP allows them, values on one line; at most 32. */
export const headersField = z
  .record(
    z.string().regex(HEADER_NAME, { message: "expected a header name (letters, digits, -)" }),
    z
      .string()
      .regex(/^[^\r\n]*$/, { message: "expected a header value on one line" })
      .max(4096, { message: "expected a header value of at most 4096 characters" }),
  )
  .superRefine((headers, ctx) => {
    const names = Object.keys(headers);
    if (names.length > 32) ctx.addIssue({ code: "custom", message: "expected at most 32 headers" });
    for (const name of names.filter((n) => TRANSPORT_HEADERS.has(n.toLowerCase())))
      ctx.addIssue({
        code: "custom",
        path: [name],
        message:
          "expected a header the transport does not set itself (not Host, Content-Length, Transfer-Encoding or Connection; a request's host: sets Host)",
      });
  });

/** The highest rate a load may reach: beyond it, this machine measures itself, not the PoP. */
export const MAX_LOAD_RATE = 20_000;

/** A request body, sent as is. */
export const requestBody = z
  .string()
  .refine((b) => Buffer.byteLength(b) <= MAX_BODY_BYTES, { message: "expected a body of at most 64 KiB" });

const requestSchema = z.strictObject({
  name: z
    .string({ error: "expected name: a short name for this request, such as home or api-search" })
    .regex(/^[a-zA-Z][a-zA-Z0-9_.-]{0,63}$/, {
      message: "expected a name of letters, digits, _ . and - (starting with a letter, at most 64)",
    })
    .describe("the name its metrics and checks (request:) go by"),
  method: z
    .enum(requestMethods, { error: `expected method to be one of ${requestMethods.join(", ")}` })
    .default("GET"),
  path: path.describe("path and query requested on the PoP's entry point"),
  headers: headersField.default({}).describe("request headers, e.g. { accept-encoding: gzip }"),
  body: requestBody.optional().describe("request body, sent as is"),
  host: z
    .string()
    .regex(HOSTNAME, { message: "expected a host name such as www.example.test" })
    .optional()
    .describe("the Host header (and nothing else: the load still goes to the PoP's entry point)"),
  weight: z
    .number({ error: "expected weight: a number of 0 or more" })
    .min(0, { message: "expected a weight of 0 or more" })
    .default(1)
    .describe("share of the mix, relative to the other requests' weights"),
});
export type LoadRequest = z.output<typeof requestSchema>;

const stageTarget = z
  .union([z.number(), z.string()], { error: 'expected target: requests per second, such as 200 or "200/s"' })
  .transform((value, ctx) => {
    const perSecond = typeof value === "number" ? value : parseRate(value);
    if (
      perSecond === undefined ||
      !Number.isFinite(perSecond) ||
      perSecond < 0 ||
      perSecond > MAX_LOAD_RATE
    ) {
      ctx.addIssue({
        code: "custom",
        message: `expected target: requests per second from 0 to ${MAX_LOAD_RATE}, such as 200 or "200/s", got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }
    return perSecond;
  });

const stageSchema = z.strictObject({
  duration: duration('"30s"').refine((ms) => ms > 0, {
    message: 'expected a stage duration above 0, such as "30s"',
  }),
  target: stageTarget.describe("the rate (per second) reached at the stage's end, linearly"),
});

/** One leg of the rate: from `from` to `to` requests per second, linearly, over durationMs. */
export interface LoadStage {
  durationMs: number;
  from: number;
  to: number;
}

const connectionField = z.union(
  [
    z.enum(["keep-alive", "new"]),
    z.strictObject({
      max: z
        .number({ error: "expected max: a number of connections from 1 to 10000" })
        .int({ error: "expected max: a number of connections from 1 to 10000" })
        .min(1, { error: "expected max: a number of connections from 1 to 10000" })
        .max(10_000, { error: "expected max: a number of connections from 1 to 10000" })
        .describe("at most this many connections open at once"),
    }),
  ],
  {
    error: "expected connection to be keep-alive, new, or { max: N } (a cap on open connections, 1 to 10000)",
  },
);

const loadInput = z.strictObject({
  rate: rate
    .pipe(z.number().max(MAX_LOAD_RATE, { message: `expected a rate of at most ${MAX_LOAD_RATE}/s` }))
    .optional()
    .describe(
      "constant arrival rate, e.g. 100/s; with stages: the rate the first stage starts from (default 0)",
    ),
  stages: z
    .array(stageSchema)
    .min(1, { message: "expected at least one stage, or no stages: at all" })
    .max(100, { message: "expected at most 100 stages" })
    .optional()
    .describe("k6-style ramps from the load's start; the last target holds until the run ends"),
  path: path.optional().describe("path requested on the PoP's load balancer (default /; or requests:)"),
  requests: z
    .array(requestSchema)
    .min(1, { message: "expected at least one request" })
    .max(50, { message: "expected at most 50 requests in a mix" })
    .optional()
    .describe("a weighted mix of named requests instead of one path"),
  cacheBust: share
    .optional()
    .describe(`share of requests made unique (a ${CACHE_BUST_PARAM} query parameter): cache misses`),
  warmup: duration().default(5000).describe("load before the baseline starts; not evaluated"),
  timeout: duration().default(5000).describe("a request slower than this counts as an error"),
  https: z
    .boolean()
    .default(false)
    .describe("send the load over HTTPS to the PoP's TLS entry point, trusting the replica's CA"),
  connection: connectionField
    .default("keep-alive")
    .describe("keep-alive: reuse connections; new: a new connection (and handshake) per request; { max: N }"),
  http2: z
    .boolean()
    .default(true)
    .describe("over HTTPS, offer HTTP/2 through ALPN (used where the PoP serves it); false: HTTP/1.1 only"),
});

type LoadInput = z.output<typeof loadInput>;

function refineLoad(load: LoadInput, ctx: z.RefinementCtx): void {
  if (load.rate === undefined && load.stages === undefined)
    ctx.addIssue({
      code: "custom",
      path: ["rate"],
      message: 'expected rate (a constant rate such as "100/s") or stages (k6-style ramps)',
    });
  else if (peakOf(load) <= 0)
    ctx.addIssue({
      code: "custom",
      path: ["stages"],
      message: "expected a stage with a target above 0: this load would send no request",
    });
  if (load.path !== undefined && load.requests !== undefined)
    ctx.addIssue({
      code: "custom",
      path: ["path"],
      message: "expected either path or requests, not both (put the path in a request of the mix)",
    });
  const requests = load.requests ?? [];
  if (requests.length > 0 && requests.every((r) => r.weight === 0))
    ctx.addIssue({
      code: "custom",
      path: ["requests"],
      message: "expected a request with a weight above 0: the weights sum to 0",
    });
  requests.forEach((request, index) => {
    const same = (other: LoadRequest) => other.method === request.method && other.path === request.path;
    const first = requests.findIndex(same);
    if (first !== index)
      ctx.addIssue({
        code: "custom",
        path: ["requests", index, "path"],
        message: `expected a method and path of its own: requests[${first}] is also ${request.method} ${request.path} (results could not be told apart; add a query such as ?v=2)`,
      });
    const named = requests.findIndex((other) => other.name === request.name);
    if (named !== index)
      ctx.addIssue({
        code: "custom",
        path: ["requests", index, "name"],
        message: `expected a name of its own; "${request.name}" is also requests[${named}]`,
      });
  });
}

const peakOf = (load: Pick<LoadInput, "rate" | "stages">) =>
  Math.max(load.rate ?? 0, ...(load.stages ?? []).map((s) => s.target));

function stagesOf(load: LoadInput): LoadStage[] {
  let from = load.rate ?? 0;
  return (load.stages ?? []).map((stage) => {
    const leg = { durationMs: stage.duration, from, to: stage.target };
    from = stage.target;
    return leg;
  });
}

export const loadSchema = loadInput
  .superRefine(refineLoad)
  .transform((load) => {
    const { path: single, requests, connection, stages: _stages, rate: _rate, cacheBust, ...rest } = load;
    return {
      ...rest,
      /** The highest rate the load reaches: the constant rate, or the stages' peak. */
      rate: peakOf(load),
      /** Empty: the constant `rate` throughout. */
      stages: stagesOf(load),
      requests: requests ?? [
        { name: "default", method: "GET" as const, path: single ?? "/", headers: {}, weight: 1 },
      ],
      /** Whether the experiment named its requests (then metrics are kept per request name). */
      mix: requests !== undefined,
      cacheBust: cacheBust ?? 0,
      connection: typeof connection === "string" ? connection : ("keep-alive" as const),
      maxConnections: typeof connection === "string" ? undefined : connection.max,
    };
  })
  .describe("the traffic Faultline drives through the PoP while the experiment runs");
export type Load = z.output<typeof loadSchema>;

/** One line for plans and validate: the rate's shape, and the mix. */
export function describeLoad(load: Load): string {
  const shape =
    load.stages.length === 0
      ? `${load.rate}/s`
      : `from ${load.stages[0]?.from ?? 0}/s: ${load.stages
          .map((s) => `${formatDuration(s.durationMs)} ${s.from === s.to ? "at" : "to"} ${s.to}/s`)
          .join(", ")}, then holds`;
  const bust = load.cacheBust ? `, ${Math.round(load.cacheBust * 100)}% cache-busting` : "";
  if (!load.mix) return `${shape} on ${load.requests[0]?.path ?? "/"}${bust}`;
  const mix = load.requests.map((r) => `${r.name} (${r.method} ${r.path}, weight ${r.weight})`).join(", ");
  return `${shape}; a mix of ${mix}${bust}`;
}
