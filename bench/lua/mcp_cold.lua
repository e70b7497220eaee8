-- As mcp.lua, but each request carries the next token of a file of pre-minted tokens (lines FIRST ..
-- FIRST+COUNT-1), so that every request misses the guard's verified-token cache while the slice lasts;
-- after COUNT requests it wraps around (run.sh reports the number of requests, compare with COUNT).
-- Arguments: PATH SESSIONS_FILE TOKENS_FILE FIRST COUNT
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
dofile(os.getenv("BENCH_LUA") .. "/sessions.lua")
local tokens, n, i, id = {}, 0, 0, 0
local path = nil
headers = {}  -- global: sessions.lua sets Mcp-Session-Id in it
function init(args)
  path = args[1]
  headers["Content-Type"] = "application/json"
  headers["Accept"] = "application/json, text/event-stream"
  headers["MCP-Protocol-Version"] = os.getenv("BENCH_MCP_VERSION") or "2025-06-18"
  load_sessions(args[2])
  local first, count, line = tonumber(args[4]), tonumber(args[5]), 0
  for t in io.lines(args[3]) do
    line = line + 1
    if line >= first and line < first + count then
      n = n + 1
      tokens[n] = "Bearer " .. t
    end
  end
end
function request()
  i = i % n + 1
  id = id + 1
  next_session()
  headers["Authorization"] = tokens[i]
  return wrk.format("POST", path, headers,
    '{"jsonrpc":"2.0","id":' .. id .. ',"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}')
end
