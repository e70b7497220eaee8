-- An MCP `tools/call` (echo) on initialized streamable-HTTP sessions, rotating through the session ids
-- of a file (rmcp runs one session's requests through one task: one shared session would be the
-- bottleneck, as a real deployment has a session per client). Every request has its own JSON-RPC id:
-- rmcp routes answers by id within a session, so concurrent requests with one id would be lost.
-- Arguments: PATH SESSIONS_FILE [BEARER_TOKEN]. An empty file sends no Mcp-Session-Id header; no token
-- sends no Authorization header (the unguarded path of `serve --demo-public`).
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
dofile(os.getenv("BENCH_LUA") .. "/sessions.lua")
local path, id = nil, 0
headers = {}  -- global: sessions.lua sets Mcp-Session-Id in it
function init(args)
  path = args[1]
  headers["Content-Type"] = "application/json"
  headers["Accept"] = "application/json, text/event-stream"
  headers["MCP-Protocol-Version"] = os.getenv("BENCH_MCP_VERSION") or "2025-06-18"
  load_sessions(args[2])
  if args[3] and args[3] ~= "" then headers["Authorization"] = "Bearer " .. args[3] end
end
function request()
  id = id + 1
  next_session()
  return wrk.format("POST", path, headers,
    '{"jsonrpc":"2.0","id":' .. id .. ',"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}')
end
