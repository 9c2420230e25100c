import {
  LB_HTTP_PORT,
  LB_STATS_PORT,
  linkTo,
  ORIGIN_LINK_PORT,
  PROMETHEUS_PORT,
  TOXIPROXY_API_PORT,
  type Topology,
} from "./topology.js";

// Configs are rendered here, not baked into images, so one set of images serves any topology
// and the rendering is unit-tested. Each service's entrypoint writes FAULTLINE_CONFIG to disk.

export function haproxyConfig(topology: Topology): string {
  const { intervalMs, timeoutMs, fall, rise } = topology.healthCheck;
  const servers = topology.edges.map((edge) => {
    const link = linkTo(topology, edge);
    if (!link) throw new Error(`topology has no link to ${edge}`);
    // Traffic and health checks both cross the edge's Toxiproxy link, as they would cross
    // the real network: a fault on the link is seen by HAProxy's checks too.
    return `  server ${edge} toxiproxy:${link.listenPort} check`;
  });
  return [
    "global",
    "  maxconn 4096",
    "  hard-stop-after 5s",
    "",
    "defaults",
    "  mode http",
    "  timeout connect 2s",
    "  timeout client 30s",
    "  timeout server 10s",
    `  timeout check ${timeoutMs}ms`,
    "  option redispatch",
    "  retries 1",
    "",
    "resolvers docker",
    "  nameserver dns 127.0.0.11:53",
    "  hold valid 1s",
    "",
    "frontend pop",
    `  bind :${LB_HTTP_PORT}`,
    "  default_backend edges",
    "",
    "frontend monitoring",
    `  bind :${LB_STATS_PORT}`,
    "  http-request use-service prometheus-exporter if { path /metrics }",
    "  stats enable",
    "  stats uri /stats",
    "  stats refresh 5s",
    "",
    "backend edges",
    `  balance ${topology.balance ?? "roundrobin"}`,
    "  option httpchk GET /healthz",
    "  http-check expect status 200",
    `  default-server inter ${intervalMs} fall ${fall} rise ${rise} resolvers docker resolve-opts allow-dup-ip init-addr last,libc,none`,
    ...servers,
    "",
  ].join("\n");
}

export function edgeConfig(edge: string): string {
  return `worker_processes 1;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000;
  proxy_cache_path /var/cache/faultline-edge levels=1:2 keys_zone=edge:10m max_size=64m inactive=1m use_temp_path=off;
  upstream origin {
    server toxiproxy:${ORIGIN_LINK_PORT};
    keepalive 32;
  }
  server {
    listen 80 default_server;
    location = /healthz {
      add_header X-Edge ${edge} always;
      return 200 "ok\\n";
    }
    # APIs are not cacheable: no cache and no request collapsing, straight to the origin.
    location /api/ {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      add_header X-Edge ${edge} always;
    }
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache edge;
      proxy_cache_lock on;
      proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;
      add_header X-Edge ${edge} always;
      add_header X-Cache $upstream_cache_status always;
    }
  }
}`;
}

export function prometheusConfig(topology: Topology): string {
  return `global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: lb
    static_configs:
      - targets: ["lb:${LB_STATS_PORT}"]
  - job_name: toxiproxy
    static_configs:
      - targets: ["toxiproxy:${TOXIPROXY_API_PORT}"]
  - job_name: prometheus
    static_configs:
      - targets: ["localhost:${PROMETHEUS_PORT}"]
# replica: ${topology.replica}
`;
}

export function toxiproxyProxies(
  topology: Topology,
): { name: string; listen: string; upstream: string; enabled: boolean }[] {
  return topology.links.map((link) => ({
    name: link.name,
    listen: `0.0.0.0:${link.listenPort}`,
    upstream: `${link.upstream.service}:${link.upstream.port}`,
    enabled: true,
  }));
}
