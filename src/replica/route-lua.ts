import { LB_ROUTE_MAP } from "./topology.js";

// The http-route fault's mechanism in a load balancer with Faultline's config: the PoP's
// frontend reads one rule from a runtime map for every request, and while a rule is held, a
// Lua action decides whether the request matches it (path, method, header) and falls in its
// share, then answers for the backend (a status and body), delays it, or marks it for the
// frontend to reject (the connection closed without an answer). With no rule held the cost
// is a map lookup. The rule is a form-encoded string (src/faults/http-route.ts writes it):
// p path pattern, m method, hn/hv header name and pattern (Lua patterns, anchored), a action,
// s status, b body, d delay ms, j jitter ms, r share (0..1).

/** The frontend's lines, before its backend is chosen. */
export const ROUTE_FRONTEND_LINES = [
  `  http-request set-var(txn.fl_route) str(rule),map(${LB_ROUTE_MAP},none)`,
  "  http-request lua.faultline_route if !{ var(txn.fl_route) -m str none }",
  "  http-request reject if { var(txn.fl_abort) -m int 1 }",
];

export const ROUTE_LUA = `-- Faultline: the http-route fault (src/replica/route-lua.ts).
local parsed = {}
local function unescape(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end
local function parse(text)
  local rule = parsed[text]
  if rule then return rule end
  rule = {}
  for k, v in text:gmatch("([^&=]+)=([^&]*)") do rule[k] = unescape(v) end
  rule.r = tonumber(rule.r) or 0
  rule.d = tonumber(rule.d) or 0
  rule.j = tonumber(rule.j) or 0
  rule.s = tonumber(rule.s) or 503
  parsed = { [text] = rule }
  return rule
end
local function matches(txn, rule)
  if rule.p and not string.find(txn.sf:path(), rule.p) then return false end
  if rule.m and txn.sf:method() ~= rule.m then return false end
  if rule.hn then
    local values = txn.http:req_get_headers()[rule.hn]
    local value = values and values[0]
    if value == nil or not string.find(value, rule.hv or "^.*$") then return false end
  end
  return true
end
core.register_action("faultline_route", { "http-req" }, function(txn)
  local rule = parse(txn:get_var("txn.fl_route") or "")
  if not matches(txn, rule) or math.random() >= rule.r then return end
  if rule.a == "delay" then
    local ms = rule.d + (rule.j > 0 and math.random(-rule.j, rule.j) or 0)
    if ms > 0 then core.msleep(ms) end
  elseif rule.a == "abort" then
    txn:set_var("txn.fl_abort", 1)
  else
    txn:done(txn:reply({ status = rule.s, headers = { ["x-faultline"] = { "http-route" } }, body = rule.b or "" }))
  end
end)
`;
