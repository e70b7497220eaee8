-- An MCP `tools/call` (echo) on an initialized streamable-HTTP session. Every request has its own
-- JSON-RPC id: rmcp routes answers by id within a session, so concurrent requests with one id would
-- be lost. Arguments: PATH SESSION_ID [BEARER_TOKEN]. An empty SESSION_ID sends no Mcp-Session-Id
-- header; no token sends no Authorization header (the unguarded path of `serve --demo-public`).
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
local path, headers, id = nil, {}, 0
function init(args)
  path = args[1]
  headers["Content-Type"] = "application/json"
  headers["Accept"] = "application/json, text/event-stream"
  headers["MCP-Protocol-Version"] = os.getenv("BENCH_MCP_VERSION") or "2025-06-18"
  if args[2] and args[2] ~= "" then headers["Mcp-Session-Id"] = args[2] end
  if args[3] and args[3] ~= "" then headers["Authorization"] = "Bearer " .. args[3] end
end
function request()
  id = id + 1
  return wrk.format("POST", path, headers,
    '{"jsonrpc":"2.0","id":' .. id .. ',"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}')
end
