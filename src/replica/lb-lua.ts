import { ROUTE_LUA_CORE } from "./route-lua.js";
import { LB_ROUTE_MAP, LB_SERIES_FILE, SERIES_PATH } from "./topology.js";

// The http-route fault's mechanism in a load balancer with Faultline's config: the PoP's
// frontend reads one rule from a runtime map for every request, and while a rule is held, a
// Lua action decides whether the request matches it (path, method, header) and falls in its
// share, then answers for the backend (a status and body), delays it, or marks it for the
// frontend to reject (the connection closed without an answer). With no rule held the cost
// is a map lookup. The rule is a form-encoded string (src/faults/http-route.ts writes it):
// p path glob, m method, hn/hv header name and value glob, a action, s status, b body,
// d delay ms, j jitter ms, r share (0..1). Globs (`*` any run, the rest literal) are matched
// in linear time: a Lua pattern's backtracking, uninterruptible in C, could stall HAProxy.

/** The frontend's lines, before its backend is chosen. */
export const ROUTE_FRONTEND_LINES = [
  `  http-request set-var(txn.fl_route) str(rule),map(${LB_ROUTE_MAP},none)`,
  "  http-request lua.faultline_route if !{ var(txn.fl_route) -m str none }",
  "  http-request reject if { var(txn.fl_abort) -m int 1 }",
];

export const ROUTE_LUA = `-- Faultline: the http-route fault in HAProxy (src/replica/lb-lua.ts).
${ROUTE_LUA_CORE}
local function matches(txn, rule)
  if rule.p and not glob(txn.sf:path(), rule.p) then return false end
  if rule.m and txn.sf:method() ~= rule.m then return false end
  if rule.hn then
    local values = txn.http:req_get_headers()[rule.hn]
    local value = values and values[0]
    if value == nil or not glob(value, rule.hv or "*") then return false end
  end
  return true
end
core.register_action("faultline_route", { "http-req" }, function(txn)
  local rule = parse(txn:get_var("txn.fl_route") or "")
  if not matches(txn, rule) or math.random() >= rule.r then return end
  if rule.a == "delay" then
    local ms = delayOf(rule)
    if ms > 0 then core.msleep(ms) end
  elseif rule.a == "abort" then
    txn:set_var("txn.fl_abort", 1)
  else
    txn:done(txn:reply({ status = rule.s, headers = { ["x-faultline"] = { "http-route" } }, body = rule.b or "" }))
  end
end)
`;

/** The monitoring frontend's line serving the series (SERIES_PATH). */
export const SERIES_MONITORING_LINES = [
  `  http-request use-service lua.faultline_series if { path ${SERIES_PATH} }`,
];

/**
 * The series service: the concatenated file of every run's series, each line prefixed with the
 * epoch second it expires at; only lines not yet expired are served, so series a crashed run
 * left stop being served by themselves (src/run/series.ts writes them).
 */
export const SERIES_LUA = `-- Faultline: a run's series, for Prometheus (src/replica/lb-lua.ts).
core.register_service("faultline_series", "http", function(applet)
  local now = core.now().sec
  local out = {}
  local file = io.open("${LB_SERIES_FILE}", "r")
  if file then
    for line in file:lines() do
      local expires, rest = line:match("^(%d+) (.*)$")
      if expires and tonumber(expires) >= now then out[#out + 1] = rest end
    end
    file:close()
  end
  local body = #out > 0 and (table.concat(out, "\\n") .. "\\n") or ""
  applet:set_status(200)
  applet:add_header("content-type", "text/plain; version=0.0.4")
  applet:add_header("content-length", tostring(#body))
  applet:start_response()
  applet:send(body)
end)
`;

/** Faultline's Lua in every load balancer with its config. */
export const LB_LUA = `${ROUTE_LUA}\n${SERIES_LUA}`;
