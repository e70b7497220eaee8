//! The Lua scripts, each one atomic round trip (`EVALSHA`, loaded again by redis-rs when a
//! restarted Redis no longer has it). Every time is an argument (the server clock), never
//! Redis's `TIME`, so the semantics are the in-memory limiters' and the tests run on a test clock.

use redis::Script;

/// A token bucket as GCRA: one number per key, the theoretical arrival time (TAT) of the next
/// request in microseconds. `KEYS[1]`; `ARGV`: now (µs), the emission interval (µs per token),
/// the burst (µs: capacity × interval). Answers 0 (taken) or the microseconds until a token.
/// A refusal changes nothing; the key expires once the bucket is full again.
///
/// The same bucket as [`crate::rate_limit::RateLimiter`]: `capacity` requests at once, then one
/// per interval. Whole microseconds, so that every number is an integer a Lua double holds
/// exactly (up to 2^53 µs, 285 years): no rounding accumulates over a burst.
const GCRA: &str = r"
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + interval
if next_tat - now > burst then
  return next_tat - burst - now
end
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.max(1, math.ceil((next_tat - now) / 1000)))
return 0
";

/// The login back-off's failure: for every key of `KEYS` (a hash: `f` failures, `u` blocked
/// until), one more failure; past `free` of them, blocked for 2, 4, 8 … s capped at
/// `max_backoff`, exactly as [`crate::throttle::LoginThrottle::fail`]. `ARGV`: now (s), free,
/// max_backoff (s), memory (s). A key is forgotten `memory` seconds after its last failure (or
/// after its block, if longer).
const BACKOFF_FAIL: &str = r"
local now = tonumber(ARGV[1])
local free = tonumber(ARGV[2])
local max_backoff = tonumber(ARGV[3])
local memory = tonumber(ARGV[4])
for _, key in ipairs(KEYS) do
  local failures = redis.call('HINCRBY', key, 'f', 1)
  local ttl = memory
  if failures > free then
    local wait = math.min(2 ^ math.min(failures - free, 20), max_backoff)
    redis.call('HSET', key, 'u', string.format('%d', now + wait))
    ttl = math.max(ttl, wait)
  end
  redis.call('EXPIRE', key, ttl)
end
return 0
";

/// The login back-off's check: the longest wait of `KEYS` at `ARGV[1]` (now, s), 0 if none.
const BACKOFF_CHECK: &str = r"
local now = tonumber(ARGV[1])
local wait = 0
for _, key in ipairs(KEYS) do
  local until_ = tonumber(redis.call('HGET', key, 'u') or 0)
  if until_ - now > wait then wait = until_ - now end
end
return wait
";

/// Single use of an id. `KEYS[1]` the id's key, `KEYS[2]` the epoch mark (when the memory of
/// used ids began, s); `ARGV`: how long to remember (ms), the credential's earliest use (s),
/// now (s). Answers 1 (first use), 0 (replay), 2 (the credential may have been used before the
/// memory began: refused). `ARGV[1]` is the milliseconds to remember, from now (`PX`). A missing mark means Redis lost its data (the first connection of
/// every instance sets it to 0 when absent, `shared::Redis::connection`): the memory begins now.
const JTI: &str = r"
local since = redis.call('GET', KEYS[2])
if not since then
  redis.call('SET', KEYS[2], ARGV[3])
  since = ARGV[3]
end
if tonumber(ARGV[2]) < tonumber(since) then
  return 2
end
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  return 1
end
return 0
";

/// The scripts, hashed once.
pub(crate) struct Scripts {
    pub gcra: Script,
    pub backoff_fail: Script,
    pub backoff_check: Script,
    pub jti: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            gcra: Script::new(GCRA),
            backoff_fail: Script::new(BACKOFF_FAIL),
            backoff_check: Script::new(BACKOFF_CHECK),
            jti: Script::new(JTI),
        }
    }
}
