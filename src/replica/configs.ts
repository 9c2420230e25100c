import { ROUTE_FRONTEND_LINES, SERIES_MONITORING_LINES } from "./lb-lua.js";
import { NGINX_ROUTE_HOOK, NGINX_ROUTE_MODULES } from "./route-lua.js";
import {
  DNS_SERVICE,
  EDGE_CA_PATH,
  EDGE_CERT_PATH,
  EDGE_TLS_CONF,
  EDGE_TLS_PORT,
  LB_ADMIN_PORT,
  LB_CA_PATH,
  LB_CERT_PATH,
  LB_DELAY_MAP,
  LB_FAULTLINE_LUA,
  LB_HTTP_PORT,
  LB_LUA_PATH,
  LB_OFFER_MAP,
  LB_OFFERS,
  LB_STATS_PORT,
  LB_TLS_PORT,
  type LbOffer,
  linkAddress,
  linkTo,
  ORIGIN_CERT_PATH,
  ORIGIN_LINK_PORT,
  ORIGIN_SERVER_NAME,
  ORIGIN_TLS_CONF,
  ORIGIN_TLS_PORT,
  POP_HEALTH_PATH,
  POP_SERVER_NAME,
  type PopView,
  PROMETHEUS_PORT,
  popOf,
  popViews,
  SERIES_PATH,
  type TlsSettings,
  TOXIPROXY_API_PORT,
  type Topology,
} from "./topology.js";

// Configs are rendered here, not baked into images, so one set of images serves any topology
// and the rendering is unit-tested. Each service's entrypoint writes FAULTLINE_CONFIG to disk.

/** The load balancer of a single-PoP replica. */
export function haproxyConfig(topology: Topology): string {
  const [view] = popViews(topology);
  if (!view) throw new Error("topology has no PoP");
  return popLbConfig(topology, view);
}

const HAPROXY_COMMON = [
  "global",
  "  maxconn 4096",
  "  hard-stop-after 5s",
  "",
  "defaults",
  "  mode http",
  "  timeout connect 2s",
  "  timeout client 30s",
  "  timeout server 10s",
];

/** The monitoring port: HAProxy's Prometheus exporter and stats page, and `extra` services. */
const haproxyMonitoring = (extra: readonly string[] = []) => [
  "resolvers docker",
  "  nameserver dns 127.0.0.11:53",
  "  hold valid 1s",
  "",
  "frontend monitoring",
  `  bind :${LB_STATS_PORT}`,
  "  http-request use-service prometheus-exporter if { path /metrics }",
  ...extra,
  "  stats enable",
  "  stats uri /stats",
  "  stats refresh 5s",
  "",
];

function linkAddressTo(topology: Topology, target: string): string {
  const link = linkTo(topology, target);
  if (!link) throw new Error(`topology has no link to ${target}`);
  return linkAddress(link);
}

/** One PoP's HAProxy: balances its edges; answers POP_HEALTH_PATH for the global layer. */
export function popLbConfig(topology: Topology, pop: PopView): string {
  const { timeoutMs } = pop.healthCheck;
  const tls = topology.tls?.terminate;
  const [global, ...common] = HAPROXY_COMMON;
  return [
    global,
    `  stats socket ipv4@127.0.0.1:${LB_ADMIN_PORT} level admin`,
    `  lua-load ${LB_FAULTLINE_LUA}`,
    ...(tls ? [`  lua-load ${LB_LUA_PATH}`] : []),
    ...common,
    `  timeout check ${timeoutMs}ms`,
    "  option redispatch",
    "  retries 1",
    "",
    ...haproxyMonitoring(SERIES_MONITORING_LINES),
    ...(tls ? tlsFront(tls) : []),
    "frontend pop",
    `  bind :${LB_HTTP_PORT}`,
    ...(tls === "lb" ? tlsBinds() : []),
    // The PoP is healthy while at least one edge is in rotation: what the global layer checks.
    `  monitor-uri ${POP_HEALTH_PATH}`,
    "  monitor fail if { nbsrv(edges) lt 1 }",
    ...(pop.name ? [`  http-after-response set-header X-Pop ${pop.name}`] : []),
    ...ROUTE_FRONTEND_LINES,
    "  default_backend edges",
    "",
    ...edgesBackend(topology, pop),
    ...(tls === "edges" ? edgesPassThrough(topology, pop) : []),
  ].join("\n");
}

/** The health-check settings every server of a backend of edges shares. */
function edgeCheckDefaults(pop: PopView): string {
  const { intervalMs, fall, rise } = pop.healthCheck;
  return `  default-server inter ${intervalMs} fall ${fall} rise ${rise} resolvers docker resolve-opts allow-dup-ip init-addr last,libc,none`;
}

/**
 * The edges, as HTTP servers. Traffic and health checks both cross the edge's Toxiproxy link,
 * as they would cross the real network: a fault on the link is seen by HAProxy's checks too.
 * With TLS at the edges, the link ends at each edge's 443: plain HTTP from port 80 is
 * re-encrypted to it, and the edge's certificate is verified (an edge serving a flawed one
 * fails its checks, and this path routes around it).
 */
function edgesBackend(topology: Topology, pop: PopView): string[] {
  const reencrypt =
    topology.tls?.terminate === "edges"
      ? ` ssl verify required ca-file ${LB_CA_PATH} sni str(${POP_SERVER_NAME}) verifyhost ${POP_SERVER_NAME} check-sni ${POP_SERVER_NAME}`
      : "";
  return [
    "backend edges",
    `  balance ${pop.balance}`,
    "  option httpchk GET /healthz",
    "  http-check expect status 200",
    `${edgeCheckDefaults(pop)}${reencrypt}`,
    ...pop.edges.map((edge) => `  server ${edge} ${linkAddressTo(topology, edge)} check`),
    "",
  ];
}

/**
 * With TLS at the edges, port 443 passes each connection through (TCP) to an edge, which
 * ends TLS. Its own checks ask each edge's /healthz over TLS without verifying the
 * certificate, as a layer-4 balancer does: an edge serving a flawed certificate stays in
 * rotation here, and its clients see the flaw.
 */
function edgesPassThrough(topology: Topology, pop: PopView): string[] {
  return [
    "backend edges-tls",
    "  mode tcp",
    `  balance ${pop.balance}`,
    "  timeout server 30s",
    "  option httpchk GET /healthz",
    "  http-check expect status 200",
    `${edgeCheckDefaults(pop)} check-ssl verify none check-sni ${POP_SERVER_NAME}`,
    ...pop.edges.map((edge) => `  server ${edge} ${linkAddressTo(topology, edge)} check`),
    "",
  ];
}

/** The internal socket of the TLS bind offering `offer` alone (or TLSv1.2 and 1.3). */
const tlsSocket = (offer: LbOffer | "default") =>
  offer === "default" ? "abns@faultline-tls" : `abns@faultline-tls-${offer}`;

/** Longest handshake delay the TCP front can hold (the fault's bound, 10 s, plus a margin). */
export const LB_INSPECT_DELAY_MS = 11_000;

/**
 * The PoP's port 443 with tls: a TCP front that passes each new connection, client address
 * kept (PROXY v2), to a TLS bind of the PoP's frontend over an internal socket; with TLS at
 * the edges, to an edge (backend edges-tls), and only the delay map applies. Two maps,
 * empty unless a TLS fault sets them through the runtime API, shape what it does: the delay
 * (ms) its Lua action sleeps once the client's first bytes (the ClientHello) are in, before
 * they are passed on, so that only the handshake is late; and the protocol version offered
 * (the bind it routes to). Connections already passed on are not touched by either.
 */
function tlsFront(terminate: TlsSettings["terminate"]): string[] {
  const passOn =
    terminate === "edges"
      ? ["  default_backend edges-tls", ""]
      : [
          `  use_backend tls-offer-%[str(offer),map(${LB_OFFER_MAP},default)]`,
          "  default_backend tls-offer-default",
          "",
          ...(["default", ...LB_OFFERS] as const).flatMap((offer) => [
            `backend tls-offer-${offer}`,
            "  mode tcp",
            "  timeout server 30s",
            `  server pop ${tlsSocket(offer)} send-proxy-v2`,
            "",
          ]),
        ];
  return [
    "frontend tls-front",
    "  mode tcp",
    `  bind :${LB_TLS_PORT}`,
    `  tcp-request inspect-delay ${LB_INSPECT_DELAY_MS}ms`,
    `  tcp-request content set-var(txn.handshake_delay) str(delay),map_str_int(${LB_DELAY_MAP},0)`,
    "  tcp-request content lua.faultline_handshake_delay if { var(txn.handshake_delay) -m int gt 0 } { req.len gt 0 }",
    ...passOn,
  ];
}

/**
 * TLS at the PoP's entry point: TLSv1.2 and 1.3, HTTP/2 or 1.1 by ALPN (SNI is answered with
 * the one certificate, whose names are the PoP's). Beside it, one bind per old version offered
 * alone, which the TCP front routes to only while a tls-protocol fault lasts; OpenSSL 3 refuses
 * TLSv1.0 and 1.1 at its default security level, hence SECLEVEL=0 there (HTTP/2 needs 1.2).
 */
function tlsBinds(): string[] {
  const bind = (offer: LbOffer | "default") =>
    `  bind ${tlsSocket(offer)} accept-proxy ssl crt ${LB_CERT_PATH}`;
  return [
    `${bind("default")} alpn h2,http/1.1 ssl-min-ver TLSv1.2`,
    ...LB_OFFERS.map((offer) =>
      offer === "TLSv1.2"
        ? `${bind(offer)} alpn h2,http/1.1 ssl-min-ver ${offer} ssl-max-ver ${offer}`
        : `${bind(offer)} alpn http/1.1 ssl-min-ver ${offer} ssl-max-ver ${offer} ciphers DEFAULT@SECLEVEL=0`,
    ),
  ];
}

/** The Lua action of the TCP front: sleeps for the handshake delay the front read from its map. */
export const HANDSHAKE_DELAY_LUA = `-- Faultline: the handshake delay of the load balancer's TCP front on 443 (tls-handshake-delay).
core.register_action("faultline_handshake_delay", { "tcp-req" }, function(txn)
  local ms = tonumber(txn:get_var("txn.handshake_delay"))
  if ms ~= nil and ms > 0 then core.msleep(ms) end
end)
`;

/**
 * The global traffic layer: one HAProxy in front of every PoP's load balancer, checking each
 * PoP's health path and steering clients to the healthy ones (primary/backup or weighted), as
 * a GSLB or an anycast failover does in production.
 */
export function globalLbConfig(topology: Topology): string {
  const { pops, global } = topology;
  if (!pops || !global) throw new Error("topology has no global traffic layer");
  const { intervalMs, timeoutMs, fall, rise } = global.healthCheck;
  const servers = pops.map((pop) => {
    const steering = global.policy === "weighted" ? ` weight ${pop.weight}` : pop.backup ? " backup" : "";
    return `  server ${pop.name} ${linkAddressTo(topology, pop.ingress)} check${steering}`;
  });
  return [
    ...HAPROXY_COMMON,
    `  timeout check ${timeoutMs}ms`,
    "",
    ...haproxyMonitoring(),
    "frontend clients",
    `  bind :${LB_HTTP_PORT}`,
    "  default_backend pops",
    "",
    "backend pops",
    // Backup servers take clients only when every primary is down; primaries share them.
    "  balance roundrobin",
    `  option httpchk GET ${POP_HEALTH_PATH}`,
    "  http-check expect status 200",
    `  default-server inter ${intervalMs} fall ${fall} rise ${rise} resolvers docker resolve-opts allow-dup-ip init-addr last,libc,none`,
    ...servers,
    "",
  ].join("\n");
}

/** An edge's upstream: its PoP's uplink, or the one link to the origin in a single PoP. */
export function edgeUpstream(topology: Topology, edge: string): string {
  const pop = popOf(topology, edge);
  return linkAddressTo(topology, pop ? pop.uplink : "origin");
}

/**
 * With DNS in the replica, the edges pull from the origin's name through the replica's DNS:
 * nginx resolves it at request time and caches the answer for its TTL. The cost: a variable
 * upstream has no keepalive pool, so each request to the origin opens a connection.
 */
export function edgeDnsUpstream(topology: Topology): { upstream: string; resolver: string } | undefined {
  const link = linkTo(topology, "origin");
  if (!topology.dns || !link) return undefined;
  const port = linkAddress(link).split(":").pop();
  return { upstream: `${ORIGIN_SERVER_NAME}:${port}`, resolver: DNS_SERVICE };
}

/** How an edge reaches the origin: its address, and how it resolves and verifies it. */
export interface EdgeUpstream {
  upstream?: string;
  resolver?: string;
  /** Origin pull over TLS: the edge verifies the origin's certificate for `name` against `ca`. */
  originTls?: { name: string; ca: string };
}

/**
 * The TLS of an nginx server (included by its server block, beside port 80): `certificate`
 * holds its certificate and key; a certificate fault points it at a flawed one.
 */
function nginxTlsConfig(port: number, certificate: string, http2: boolean): string {
  return `listen ${port} ssl${http2 ? " http2" : ""};
ssl_certificate ${certificate};
ssl_certificate_key ${certificate};
ssl_protocols TLSv1.2 TLSv1.3;
`;
}

/** With origin pull, the origin's TLS. */
export const originTlsConfig = (certificate: string) => nginxTlsConfig(ORIGIN_TLS_PORT, certificate, false);

/** With TLS at the edges, an edge's: HTTP/2 or 1.1 by ALPN, as the load balancer's is with TLS there. */
export const edgeTlsConfig = (certificate: string) => nginxTlsConfig(EDGE_TLS_PORT, certificate, true);

/**
 * The command of an nginx serving TLS: its sound TLS config first, then nginx. A restarted
 * container thus serves its own certificate, whatever a certificate fault left in its config.
 */
function tlsStartCommand(confPath: string, conf: string): string[] {
  return ["sh", "-c", `printf '%s' '${conf}' > ${confPath} && exec nginx -g 'daemon off;'`];
}

/** The origin's command with origin pull. */
export const originStartCommand = () => tlsStartCommand(ORIGIN_TLS_CONF, originTlsConfig(ORIGIN_CERT_PATH));

/** An edge's command with TLS at the edges. */
export const edgeStartCommand = () => tlsStartCommand(EDGE_TLS_CONF, edgeTlsConfig(EDGE_CERT_PATH));

/** With origin pull, what the edges verify: the origin's name, against the replica's CA. */
export function edgeOriginTls(topology: Topology): EdgeUpstream["originTls"] {
  return topology.tls?.originPull ? { name: ORIGIN_SERVER_NAME, ca: EDGE_CA_PATH } : undefined;
}

/**
 * An edge's nginx; with TLS at the edges it includes its TLS config (EDGE_TLS_CONF) too; with
 * `routes` (Faultline's image), the http-route hook.
 */
export function edgeConfig(edge: string, via: EdgeUpstream = {}, servesTls = false, routes = false): string {
  return cacheProxyConfig({
    zone: "edge",
    routes,
    ...(servesTls ? { tlsInclude: EDGE_TLS_CONF } : {}),
    upstream: via.upstream ?? `toxiproxy:${ORIGIN_LINK_PORT}`,
    ...(via.resolver ? { resolver: via.resolver } : {}),
    ...(via.originTls ? { originTls: via.originTls } : {}),
    healthz: [`X-Edge ${edge}`],
    api: [`X-Edge ${edge}`],
    cached: [`X-Edge ${edge}`, "X-Cache $upstream_cache_status"],
  });
}

/**
 * An nginx cache proxy in front of `upstream`, the one config of the edges and the shield:
 * /healthz answered locally, /api/ passed through uncached, everything else cached. The
 * headers it adds say who answered; the shield's must differ from the edge's, which clients
 * read (X-Edge) and which pass through the edge from the shield.
 */
function cacheProxyConfig(proxy: {
  zone: string;
  upstream: string;
  /** Resolve the upstream at request time through this DNS server (honouring its TTLs). */
  resolver?: string;
  originTls?: { name: string; ca: string };
  /** A TLS config the server block includes (its listen on 443 and certificate). */
  tlsInclude?: string;
  /** Load Lua and read http-route rules (src/replica/route-lua.ts): Faultline's image only. */
  routes?: boolean;
  healthz: string[];
  api: string[];
  cached: string[];
}): string {
  const headers = (list: string[]) => list.map((h) => `\n      add_header ${h} always;`).join("");
  // A resolver's answer times out well before a client would: a DNS that does not answer
  // costs each request 2 s, then a 502, not the 30 s of nginx's default.
  const upstream = proxy.resolver
    ? `  resolver ${proxy.resolver} ipv6=off;
  resolver_timeout 2s;`
    : `  upstream origin {
    server ${proxy.upstream};
    keepalive 32;
  }`;
  const scheme = proxy.originTls ? "https" : "http";
  const target = proxy.resolver ? `${scheme}://$origin_upstream` : `${scheme}://origin`;
  const variable = proxy.resolver ? `\n    set $origin_upstream ${proxy.upstream};` : "";
  // Origin pull over TLS: the origin's chain is verified for its name (sent in SNI too).
  const verify = proxy.originTls
    ? `
    proxy_ssl_verify on;
    proxy_ssl_trusted_certificate ${proxy.originTls.ca};
    proxy_ssl_name ${proxy.originTls.name};
    proxy_ssl_server_name on;
    proxy_ssl_protocols TLSv1.2 TLSv1.3;`
    : "";
  const modules = proxy.routes ? `${NGINX_ROUTE_MODULES.join("\n")}\n` : "";
  const hook = proxy.routes ? `${NGINX_ROUTE_HOOK.replace(/^/gm, "  ")}\n` : "";
  return `${modules}worker_processes 1;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000;
${hook}  proxy_cache_path /var/cache/faultline-${proxy.zone} levels=1:2 keys_zone=${proxy.zone}:10m max_size=64m inactive=1m use_temp_path=off;
${upstream}
  server {
    listen 80 default_server;${proxy.tlsInclude ? `\n    include ${proxy.tlsInclude};` : ""}${variable}${verify}
    location = /healthz {${headers(proxy.healthz)}
      return 200 "ok\\n";
    }
    # APIs are not cacheable: no cache and no request collapsing, straight to the origin.
    location /api/ {
      proxy_pass ${target};
      proxy_http_version 1.1;
      proxy_set_header Connection "";${headers(proxy.api)}
    }
    location / {
      proxy_pass ${target};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache ${proxy.zone};
      proxy_cache_lock on;
      proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;${headers(proxy.cached)}
    }
  }
}`;
}

/** The scrape job of a run's series (src/run/series.ts), on the load balancer that serves them. */
function seriesJob(topology: Topology): string {
  const host = seriesHost(topology);
  if (!host) return "";
  return `  - job_name: faultline
    honor_labels: true
    metrics_path: ${SERIES_PATH}
    static_configs:
      - targets: ["${host}:${LB_STATS_PORT}"]
`;
}

/**
 * The load balancer that serves a run's series: the first one with Faultline's config (none on
 * an attached stack, or where the topology file gives every load balancer its own config).
 */
export function seriesHost(topology: Topology): string | undefined {
  if (topology.attach) return undefined;
  return topology.services.find((s) => s.role === "lb" && !s.own?.config)?.name;
}

export function prometheusConfig(topology: Topology): string {
  const lbs = popViews(topology).map(
    (pop) =>
      `      - targets: ["${pop.lb}:${LB_STATS_PORT}"]${pop.name ? `\n        labels: { pop: "${pop.name}" }` : ""}`,
  );
  const global = topology.global
    ? [
        `  - job_name: global`,
        `    static_configs:`,
        `      - targets: ["${topology.global.service}:${LB_STATS_PORT}"]`,
      ]
    : [];
  return `global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: lb
    static_configs:
${lbs.join("\n")}
${global.length ? `${global.join("\n")}\n` : ""}${seriesJob(topology)}  - job_name: toxiproxy
    static_configs:
      - targets: ["toxiproxy:${TOXIPROXY_API_PORT}"]
  - job_name: prometheus
    static_configs:
      - targets: ["localhost:${PROMETHEUS_PORT}"]
# replica: ${topology.replica}
`;
}

/** The shield PoP: a cache tier in front of the origin that every PoP's uplink reaches. */
export function shieldConfig(upstream: string, routes = false): string {
  return cacheProxyConfig({
    zone: "shield",
    routes,
    upstream,
    healthz: [],
    api: ["X-Shield hit-or-miss"],
    cached: ["X-Shield $upstream_cache_status"],
  });
}

export function toxiproxyProxies(
  topology: Topology,
): { name: string; listen: string; upstream: string; enabled: boolean }[] {
  return topology.links
    .filter((link) => link.proxied !== false)
    .map((link) => ({
      name: link.name,
      listen: `0.0.0.0:${link.listenPort}`,
      upstream: `${link.upstream.service}:${link.upstream.port}`,
      enabled: true,
    }));
}
