-- As form.lua, but each request carries the next DPoP proof (RFC 9449) of a file of pre-made proofs
-- (`dpop_proofs` example of mcp-oauth-core: one key, distinct jti), since a proof is single use: the
-- server verifies it and records its jti on every request. After the file's last proof it wraps
-- around, and the server refuses the replays (run.sh makes more proofs than a run sends).
-- Each of the THREADS wrk threads takes its own share of the lines, so no two send the same proof.
-- Arguments: PATH BASIC_CREDENTIALS(base64) BODY PROOFS_FILE THREADS
dofile(os.getenv("BENCH_LUA") .. "/report.lua")
local proofs, n, i = {}, 0, 0
local path, basic, body = nil, nil, nil
local threads_made = 0
function setup(thread)
  thread:set("tid", threads_made)
  threads_made = threads_made + 1
end
function init(args)
  path, basic, body = args[1], args[2], args[3]
  local threads, line = tonumber(args[5]), 0
  for p in io.lines(args[4]) do
    if line % threads == tid then
      n = n + 1
      proofs[n] = p
    end
    line = line + 1
  end
end
function request()
  i = i % n + 1
  return wrk.format("POST", path, {
    ["Authorization"] = "Basic " .. basic,
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["DPoP"] = proofs[i],
  }, body)
end
