//! `mcp-oauth audit`: the audit trail of security events, newest first.

use crate::GlobalArgs;
use crate::admin::{now, store};
use crate::output::{emit, table, time};
use anyhow::{Context, bail};
use mcp_oauth_server::audit::{AuditFilter, AuditKind};

/// Options of `audit`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Only events since this long ago (`90s`, `15m`, `1h`, `7d`) or this time (RFC 3339,
    /// `2026-01-31T12:00:00Z`). Default: the last 24 hours.
    #[arg(long, default_value = "24h")]
    since: String,
    /// Only events of this kind (login_succeeded, login_failed, login_throttled, consent_given,
    /// consent_denied, consent_revoked, client_registered, client_removed, token_revoked,
    /// refresh_reuse, code_replay, key_rotated, key_deleted, client_disabled, user_disabled,
    /// api_key_created, api_key_revoked, api_key_used).
    #[arg(long)]
    kind: Option<String>,
    /// At most this many events (the newest).
    #[arg(long, default_value_t = 100)]
    limit: u32,
}

pub async fn run(global: &GlobalArgs, args: AuditArgs) -> anyhow::Result<()> {
    let since = parse_since(&args.since, now())?;
    let kind = args
        .kind
        .as_deref()
        .map(str::parse::<AuditKind>)
        .transpose()
        .map_err(|e| anyhow::anyhow!("invalid value for --kind: {e}"))?;
    let store = store(global).await?;
    let events = store
        .list_audit(&AuditFilter {
            since: Some(since),
            kind,
            limit: Some(args.limit),
        })
        .await
        .context("cannot read the audit trail")?;
    emit(global.json, &events, || {
        if events.is_empty() {
            return format!("no audit events since {}", time(since));
        }
        table(
            &["TIME", "KIND", "USER", "CLIENT", "IP", "DETAIL"],
            &events
                .iter()
                .map(|e| {
                    vec![
                        time(e.at),
                        e.kind.to_string(),
                        e.user_id.clone().unwrap_or_else(|| "-".into()),
                        e.client_id.clone().unwrap_or_else(|| "-".into()),
                        e.ip.clone().unwrap_or_else(|| "-".into()),
                        if e.detail.is_null() {
                            "-".into()
                        } else {
                            e.detail.to_string()
                        },
                    ]
                })
                .collect::<Vec<_>>(),
        )
    })
}

/// `1h`-style durations before `now`, or an RFC 3339 time.
fn parse_since(s: &str, now: i64) -> anyhow::Result<i64> {
    let s = s.trim();
    if let Some(unit) = s.chars().last().filter(|c| c.is_ascii_alphabetic())
        && s.len() > 1
        && s[..s.len() - 1].bytes().all(|b| b.is_ascii_digit())
    {
        let n: i64 = s[..s.len() - 1]
            .parse()
            .context("invalid value for --since")?;
        let secs = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => bail!("invalid value for --since: unit `{unit}` is not s, m, h, d or w"),
        };
        return Ok(now - n.saturating_mul(secs));
    }
    parse_rfc3339(s).ok_or_else(|| {
        anyhow::anyhow!(
            "invalid value for --since: `{s}` is neither a duration (1h, 7d) nor an RFC 3339 time"
        )
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` as Unix seconds.
fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (oh * 3_600 + om * 60)
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3_600 + mi * 60 + sec - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_durations_and_rfc3339() {
        assert_eq!(parse_since("1h", 10_000).unwrap(), 6_400);
        assert_eq!(parse_since("90s", 100).unwrap(), 10);
        assert_eq!(parse_since("2d", 200_000).unwrap(), 200_000 - 172_800);
        assert_eq!(
            parse_since("2023-11-14T22:13:20Z", 0).unwrap(),
            1_700_000_000
        );
        assert_eq!(parse_since("2000-02-29T00:00:00Z", 0).unwrap(), 951_782_400);
        assert_eq!(
            parse_since("2023-11-14T23:13:20.5+01:00", 0).unwrap(),
            1_700_000_000
        );
        assert!(parse_since("1y", 0).is_err());
        assert!(parse_since("yesterday", 0).is_err());
        assert!(parse_since("2023-13-01T00:00:00Z", 0).is_err());
    }
}
