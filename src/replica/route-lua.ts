import { NGINX_ROUTE_RULE } from "./topology.js";

// The http-route fault's rule, read in two places: HAProxy's Lua (Lua 5.3/5.4, in a load
// balancer with Faultline's config, src/replica/lb-lua.ts) and nginx's (LuaJIT, in the edges,
// the shield and the origin of Faultline's images, below). One rule at a time, a form-encoded
// string (src/faults/http-route.ts writes it): p path glob, m method, hn/hv header name and
// value glob, a action, s status, b body, d delay ms, j jitter ms, r share (0..1). Globs (`*`
// any run, the rest literal) are matched in linear time: a Lua pattern's backtracking, which
// runs in C where no Lua timeout can stop it, could stall the proxy.

/** Lua common to both proxies: `parse(text)` (memoised for the last text), `glob`, `delayOf`. */
export const ROUTE_LUA_CORE = `local parsed = {}
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
local function glob(s, p)
  local si, pi, star, mark = 1, 1, 0, 0
  while si <= #s do
    local c = p:byte(pi)
    if c == 42 then
      star, mark, pi = pi, si, pi + 1
    elseif c ~= nil and c == s:byte(si) then
      si, pi = si + 1, pi + 1
    elseif star > 0 then
      pi, mark = star + 1, mark + 1
      si = mark
    else
      return false
    end
  end
  while p:byte(pi) == 42 do pi = pi + 1 end
  return pi > #p
end
local function delayOf(rule)
  return rule.d + (rule.j > 0 and math.random(-rule.j, rule.j) or 0)
end`;

/** The modules an nginx of Faultline's images loads for the hook (main context). */
export const NGINX_ROUTE_MODULES = [
  "load_module modules/ndk_http_module.so;",
  "load_module modules/ngx_http_lua_module.so;",
];

/**
 * The nginx hook (http context): every request, before its location is chosen, opens the
 * rule file (a tmpfs; with no rule held, the failed open is the whole cost) and, while a rule
 * is there, matches the request against it and, for its share, answers the status and body,
 * sleeps the delay without blocking the worker (then the request goes on), or closes the
 * connection without an answer (nginx's 444).
 */
export const NGINX_ROUTE_HOOK = `init_by_lua_block {
  faultline_route = (function()
${ROUTE_LUA_CORE}
    local function matches(rule)
      local path = ngx.var.request_uri:match("^[^?]*")
      if rule.p and not glob(path, rule.p) then return false end
      if rule.m and ngx.req.get_method() ~= rule.m then return false end
      if rule.hn then
        local value = ngx.req.get_headers(100)[rule.hn]
        if type(value) == "table" then value = value[1] end
        if value == nil or not glob(value, rule.hv or "*") then return false end
      end
      return true
    end
    return function()
      local file = io.open("${NGINX_ROUTE_RULE}", "r")
      if not file then return end
      local text = file:read("*a")
      file:close()
      local rule = parse(text)
      if not matches(rule) or math.random() >= rule.r then return end
      if rule.a == "delay" then
        local ms = delayOf(rule)
        if ms > 0 then ngx.sleep(ms / 1000) end
      elseif rule.a == "abort" then
        return ngx.exit(444)
      else
        local body = rule.b or ""
        ngx.status = rule.s
        ngx.header["x-faultline"] = "http-route"
        ngx.header["content-type"] = "text/plain"
        ngx.header["content-length"] = #body
        ngx.send_headers()
        if #body > 0 then ngx.print(body) end
        return ngx.exit(ngx.HTTP_OK)
      end
    end
  end)()
}
init_worker_by_lua_block {
  math.randomseed(ngx.now() * 1000 + ngx.worker.pid())
}
server_rewrite_by_lua_block {
  return faultline_route()
}`;
