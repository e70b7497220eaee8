-- Shared by every wrk script of bench/run.sh: one machine-readable summary line, and optional pacing
-- (BENCH_DELAY_MS, fractional: floor or ceil at random so that the mean is the given value) for the
-- "80% of the maximum" runs. wrk is closed-loop: pacing is think time per connection, the achieved
-- rate is what run.sh reports.
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "")
if delay_ms and delay_ms > 0 then
  local base, frac = math.floor(delay_ms), delay_ms - math.floor(delay_ms)
  function delay()
    if math.random() < frac then return base + 1 end
    return base
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d status_errors=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
