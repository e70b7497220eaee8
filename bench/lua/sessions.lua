-- MCP session ids for mcp.lua and mcp_cold.lua: load_sessions(FILE) reads one id a line;
-- next_session() puts the next one (round robin) into `headers`.
local sessions, ns, si = {}, 0, 0
function load_sessions(file)
  for l in io.lines(file) do
    if l ~= "" then ns = ns + 1; sessions[ns] = l end
  end
end
function next_session()
  if ns > 0 then
    si = si % ns + 1
    headers["Mcp-Session-Id"] = sessions[si]
  end
end
