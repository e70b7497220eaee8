-- A form POST with HTTP Basic client authentication, the same request every time (static: wrk builds
-- it once). Arguments: PATH BASIC_CREDENTIALS(base64) BODY
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
function init(args)
  wrk.method = "POST"
  wrk.path = args[1]
  wrk.headers["Authorization"] = "Basic " .. args[2]
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.body = args[3]
end
