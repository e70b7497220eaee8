//! The timed driver: one task per connection, closed loop (the next request when the answer is
//! read), optional think time per connection for the runs at 80% of the maximum, every latency
//! kept so the percentiles are exact, and the `BENCH …` summary line of `bench/lua/report.lua`.

use crate::conn::{Answer, Conn, Lost, Target};
use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use rand::Rng;
use std::time::{Duration, Instant};

/// What one connection does: like wrk's `request()`/`response()`, but with state per connection
/// (a refresh-token chain is one connection's).
pub trait Work: Send + 'static {
    /// The next request; `None` when this connection has nothing more to send.
    fn request(&mut self) -> Option<Result<Request<Full<Bytes>>, String>>;
    /// Whether the answer is the expected one (else it counts as a status error).
    fn response(&mut self, answer: &Answer) -> bool;
    /// The request got no answer (timeout or broken connection): its effect is unknown.
    fn lost(&mut self) {}
}

pub struct Plan {
    pub target: Target,
    pub duration: Duration,
    pub timeout: Duration,
    /// Mean think time between a connection's requests, uniform on [0, 2 d] as in report.lua
    /// (a constant one keeps connections in phase); from `BENCH_DELAY_MS`.
    pub delay_ms: Option<f64>,
}

impl Plan {
    pub fn new(target: Target, duration_s: f64) -> Plan {
        let delay_ms = std::env::var("BENCH_DELAY_MS")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|d| *d > 0.0);
        Plan {
            target,
            duration: Duration::from_secs_f64(duration_s),
            timeout: Duration::from_secs(5),
            delay_ms,
        }
    }
}

#[derive(Default)]
struct Tally {
    samples: Vec<u32>,
    status_errors: u64,
    connect_errors: u64,
    read_errors: u64,
    timeouts: u64,
}

pub struct Summary {
    pub requests: u64,
    pub duration: Duration,
    pub status_errors: u64,
    pub connect_errors: u64,
    pub read_errors: u64,
    pub timeouts: u64,
    /// Every completed request's latency in µs, sorted.
    pub samples: Vec<u32>,
}

impl Summary {
    fn percentile(&self, p: f64) -> u32 {
        if self.samples.is_empty() {
            return 0;
        }
        // Nearest rank: the smallest sample with at least p% of the samples at or below it.
        let rank = ((p / 100.0) * self.samples.len() as f64).ceil() as usize;
        self.samples[rank.clamp(1, self.samples.len()) - 1]
    }

    /// The line bench/run.sh parses (the same keys as bench/lua/report.lua).
    pub fn line(&self) -> String {
        format!(
            "BENCH requests={} duration_us={} status_errors={} connect_errors={} read_errors={} write_errors=0 timeouts={} p50_us={} p90_us={} p99_us={} max_us={}",
            self.requests,
            self.duration.as_micros(),
            self.status_errors,
            self.connect_errors,
            self.read_errors,
            self.timeouts,
            self.percentile(50.0),
            self.percentile(90.0),
            self.percentile(99.0),
            self.samples.last().copied().unwrap_or(0),
        )
    }
}

/// Runs every work on its own connection until the duration is over or it has nothing more to
/// send; gives the works back (a chain's last refresh token is in its work).
pub async fn drive<W: Work>(plan: &Plan, works: Vec<W>) -> Result<(Summary, Vec<W>), String> {
    let start = Instant::now();
    let deadline = start + plan.duration;
    let mut tasks = Vec::with_capacity(works.len());
    for w in works {
        let target = plan.target.clone();
        let (timeout, delay) = (plan.timeout, plan.delay_ms);
        tasks.push(tokio::spawn(one(target, w, deadline, timeout, delay)));
    }
    let mut total = Tally::default();
    let mut back = Vec::with_capacity(tasks.len());
    for t in tasks {
        let (tally, w) = t
            .await
            .map_err(|e| format!("a connection task failed: {e}"))??;
        total.samples.extend(tally.samples);
        total.status_errors += tally.status_errors;
        total.connect_errors += tally.connect_errors;
        total.read_errors += tally.read_errors;
        total.timeouts += tally.timeouts;
        back.push(w);
    }
    let duration = start.elapsed();
    total.samples.sort_unstable();
    Ok((
        Summary {
            requests: total.samples.len() as u64,
            duration,
            status_errors: total.status_errors,
            connect_errors: total.connect_errors,
            read_errors: total.read_errors,
            timeouts: total.timeouts,
            samples: total.samples,
        },
        back,
    ))
}

async fn one<W: Work>(
    target: Target,
    mut work: W,
    deadline: Instant,
    timeout: Duration,
    delay_ms: Option<f64>,
) -> Result<(Tally, W), String> {
    let mut tally = Tally::default();
    let mut conn: Option<Conn> = None;
    while Instant::now() < deadline {
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match tokio::time::timeout(timeout, Conn::open(&target)).await {
                Ok(Ok(c)) => conn.insert(c),
                _ => {
                    tally.connect_errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let Some(req) = work.request() else { break };
        let req = req?;
        let t0 = Instant::now();
        match tokio::time::timeout(timeout, c.send(req)).await {
            Ok(Ok(answer)) => {
                tally
                    .samples
                    .push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX));
                if !work.response(&answer) {
                    tally.status_errors += 1;
                }
                if answer
                    .headers
                    .get(hyper::header::CONNECTION)
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"))
                {
                    conn = None;
                }
            }
            Ok(Err(Lost::Connect | Lost::Io)) => {
                tally.read_errors += 1;
                work.lost();
                conn = None;
            }
            Err(_) => {
                tally.timeouts += 1;
                work.lost();
                conn = None;
            }
        }
        if let Some(d) = delay_ms {
            let wait = rand::rng().random_range(0.0..2.0 * d);
            tokio::time::sleep(Duration::from_secs_f64(wait / 1000.0)).await;
        }
    }
    Ok((tally, work))
}
