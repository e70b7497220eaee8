-- Shared by every wrk script of bench/run.sh: one machine-readable summary line, and optional pacing
-- (BENCH_DELAY_MS) for the "80% of the maximum" runs. wrk is closed-loop: pacing is think time per
-- connection, the achieved rate is what run.sh reports. The think time is uniform on [0, 2 d] (mean d,
-- rounded at random to whole milliseconds, which is what wrk takes): a constant one keeps connections
-- that started together in phase, and 1024 connections then arrive as one burst per period.
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "")
if delay_ms and delay_ms > 0 then
  function delay()
    return math.floor(math.random() * 2 * delay_ms + math.random())
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d status_errors=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
