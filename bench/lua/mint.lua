-- Issues tokens with client_credentials and appends each access token to a file, stopping after COUNT
-- (one wrk thread). Arguments: PATH BASIC_CREDENTIALS BODY OUTFILE COUNT
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
local out, count, seen = nil, 0, 0
function init(args)
  wrk.method = "POST"
  wrk.path = args[1]
  wrk.headers["Authorization"] = "Basic " .. args[2]
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.body = args[3]
  out = io.open(args[4], "a")
  count = tonumber(args[5])
end
function response(status, headers, body)
  if status == 200 and seen < count then
    local t = body:match('"access_token"%s*:%s*"([^"]+)"')
    if t then
      out:write(t, "\n")
      seen = seen + 1
    end
  end
  if seen >= count then
    out:flush()
    wrk.thread:stop()
  end
end
