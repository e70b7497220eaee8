//! The grant rules, without a database.

use super::*;
use crate::model::RotateOutcome;
use mcp_oauth_core::ScopeSet;

const NOW: UnixTime = 1_000;

fn code(expires_at: UnixTime) -> AuthorizationCode {
    AuthorizationCode {
        code_hash: "ch".into(),
        client_id: "c".into(),
        redirect_uri: "https://app.example/cb".into(),
        code_challenge: "pkce".into(),
        resource: "https://mcp.example/".into(),
        scope: ScopeSet::parse("read write").unwrap(),
        user_id: "u1".into(),
        auth_time: 900,
        created_at: 950,
        expires_at,
    }
}

fn row(expires_at: UnixTime, used_at: Option<UnixTime>, grant_id: Option<&str>) -> CodeRow {
    CodeRow {
        code: code(expires_at),
        used_at,
        grant_id: grant_id.map(str::to_owned),
    }
}

fn grant(id: &str) -> Grant {
    Grant {
        id: id.into(),
        client_id: "c".into(),
        user_id: None,
        resource: String::new(),
        scope: ScopeSet::new(),
        auth_time: None,
        created_at: 950,
        expires_at: 10_000,
        revoked_at: None,
    }
}

fn token(hash: &str, grant_id: &str) -> RefreshToken {
    RefreshToken {
        token_hash: hash.into(),
        grant_id: grant_id.into(),
        created_at: 950,
        expires_at: 5_000,
        rotated_at: None,
        successor_hash: None,
    }
}

fn rotated(hash: &str, at: UnixTime, successor: &str) -> RefreshToken {
    RefreshToken {
        rotated_at: Some(at),
        successor_hash: Some(successor.into()),
        ..token(hash, "g1")
    }
}

// ---- redeem ----

#[test]
fn an_unknown_code_is_not_found() {
    let d = decide_redeem(None, NOW, &grant("g1"), None).unwrap();
    assert_eq!(d, RedeemDecision::NotFound);
}

#[test]
fn an_expired_unused_code_is_not_found() {
    for expires_at in [NOW, NOW - 1] {
        let r = row(expires_at, None, None);
        let d = decide_redeem(Some(&r), NOW, &grant("g1"), None).unwrap();
        assert_eq!(d, RedeemDecision::NotFound, "expires_at {expires_at}");
    }
}

#[test]
fn a_fresh_code_becomes_a_grant_with_what_the_code_carries() {
    let r = row(NOW + 1, None, None);
    let first = token("t1", "g1");
    let d = decide_redeem(Some(&r), NOW, &grant("g1"), Some(&first)).unwrap();
    let RedeemDecision::Redeem { grant: g } = d else {
        panic!("expected Redeem, got {d:?}");
    };
    assert_eq!(g.id, "g1");
    assert_eq!(g.client_id, "c");
    assert_eq!(g.user_id.as_deref(), Some("u1"));
    assert_eq!(g.resource, "https://mcp.example/");
    assert_eq!(g.scope, ScopeSet::parse("read write").unwrap());
    assert_eq!(g.auth_time, Some(900));
    assert_eq!(g.expires_at, 10_000);
}

#[test]
fn a_replayed_code_revokes_what_it_produced_even_after_expiry() {
    for expires_at in [NOW + 1, NOW, NOW - 100] {
        let r = row(expires_at, Some(960), Some("g0"));
        let d = decide_redeem(Some(&r), NOW, &grant("g1"), None).unwrap();
        assert_eq!(
            d,
            RedeemDecision::Replay {
                revoke: Some("g0".into())
            }
        );
    }
}

#[test]
fn a_replayed_code_whose_grant_was_purged_revokes_nothing() {
    let r = row(NOW + 1, Some(960), None);
    let d = decide_redeem(Some(&r), NOW, &grant("g1"), None).unwrap();
    assert_eq!(d, RedeemDecision::Replay { revoke: None });
}

#[test]
fn a_first_refresh_token_of_another_family_is_refused() {
    let r = row(NOW + 1, None, None);
    let stray = token("t1", "other");
    let e = decide_redeem(Some(&r), NOW, &grant("g1"), Some(&stray)).unwrap_err();
    assert!(matches!(e, StoreError::Backend(_)), "{e:?}");
}

// ---- rotate ----

#[test]
fn an_unknown_token_or_family_is_invalid() {
    let t = token("t1", "g1");
    let s = token("t2", "g1");
    let g = grant("g1");
    assert_eq!(
        decide_rotate(None, Some(&g), &s, None, NOW, 30).unwrap(),
        RotateDecision::Invalid
    );
    assert_eq!(
        decide_rotate(Some(&t), None, &s, None, NOW, 30).unwrap(),
        RotateDecision::Invalid
    );
}

#[test]
fn an_expired_token_is_invalid() {
    let s = token("t2", "g1");
    let g = grant("g1");
    for expires_at in [NOW, NOW - 1] {
        let t = RefreshToken {
            expires_at,
            ..token("t1", "g1")
        };
        assert_eq!(
            decide_rotate(Some(&t), Some(&g), &s, None, NOW, 30).unwrap(),
            RotateDecision::Invalid
        );
    }
}

#[test]
fn a_revoked_or_expired_family_is_invalid() {
    let t = token("t1", "g1");
    let s = token("t2", "g1");
    let revoked = Grant {
        revoked_at: Some(990),
        ..grant("g1")
    };
    let expired = Grant {
        expires_at: NOW,
        ..grant("g1")
    };
    for g in [revoked, expired] {
        assert_eq!(
            decide_rotate(Some(&t), Some(&g), &s, None, NOW, 30).unwrap(),
            RotateDecision::Invalid
        );
    }
    // Invalid even for a token already rotated: no second revocation, no reuse report.
    let r = rotated("t1", 990, "t2");
    let g = Grant {
        revoked_at: Some(995),
        ..grant("g1")
    };
    assert_eq!(
        decide_rotate(Some(&r), Some(&g), &s, None, NOW, 30).unwrap(),
        RotateDecision::Invalid
    );
}

#[test]
fn a_current_token_rotates() {
    let t = token("t1", "g1");
    let s = token("t2", "g1");
    let g = grant("g1");
    let d = decide_rotate(Some(&t), Some(&g), &s, None, NOW, 30).unwrap();
    assert_eq!(d, RotateDecision::Rotate);
    assert_eq!(d.outcome(Some(g.clone())), RotateOutcome::Rotated(g));
}

#[test]
fn a_successor_hash_already_stored_is_a_conflict() {
    let t = token("t1", "g1");
    let s = token("t2", "g1");
    let g = grant("g1");
    let e = decide_rotate(Some(&t), Some(&g), &s, Some(&s), NOW, 30).unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");
}

#[test]
fn a_successor_of_another_family_is_refused() {
    let t = token("t1", "g1");
    let s = token("t2", "other");
    let g = grant("g1");
    let e = decide_rotate(Some(&t), Some(&g), &s, None, NOW, 30).unwrap_err();
    assert!(matches!(e, StoreError::Backend(_)), "{e:?}");
}

#[test]
fn a_retry_within_the_grace_window_gets_the_same_successor() {
    let s = token("t2", "g1");
    let g = grant("g1");
    for at in [NOW, NOW - 29, NOW - 30] {
        let t = rotated("t1", at, "t2");
        let d = decide_rotate(Some(&t), Some(&g), &s, Some(&s), NOW, 30).unwrap();
        assert_eq!(d, RotateDecision::GraceRetry, "rotated at {at}");
        assert_eq!(
            d.outcome(Some(g.clone())),
            RotateOutcome::GraceRetry(g.clone())
        );
    }
}

#[test]
fn a_retry_after_the_grace_window_revokes_the_family() {
    let s = token("t2", "g1");
    let g = grant("g1");
    let t = rotated("t1", NOW - 31, "t2");
    let d = decide_rotate(Some(&t), Some(&g), &s, Some(&s), NOW, 30).unwrap();
    assert_eq!(d, RotateDecision::RevokeFamily);
    assert_eq!(
        d.outcome(Some(g)),
        RotateOutcome::Reused {
            grant_id: "g1".into()
        }
    );
}

#[test]
fn no_grace_window_makes_every_retry_reuse() {
    let s = token("t2", "g1");
    let g = grant("g1");
    let t = rotated("t1", NOW, "t2");
    assert_eq!(
        decide_rotate(Some(&t), Some(&g), &s, Some(&s), NOW, 0).unwrap(),
        RotateDecision::RevokeFamily
    );
}

#[test]
fn a_retry_with_another_successor_is_reuse() {
    let other = token("t3", "g1");
    let g = grant("g1");
    let t = rotated("t1", NOW, "t2");
    assert_eq!(
        decide_rotate(Some(&t), Some(&g), &other, None, NOW, 30).unwrap(),
        RotateDecision::RevokeFamily
    );
}

#[test]
fn a_retry_after_the_successor_was_used_is_reuse() {
    let g = grant("g1");
    let t = rotated("t1", NOW, "t2");
    let used_successor = rotated("t2", NOW, "t3");
    let s = token("t2", "g1");
    assert_eq!(
        decide_rotate(Some(&t), Some(&g), &s, Some(&used_successor), NOW, 30).unwrap(),
        RotateDecision::RevokeFamily
    );
    // A successor that is gone (purged) is not "unused" either.
    assert_eq!(
        decide_rotate(Some(&t), Some(&g), &s, None, NOW, 30).unwrap(),
        RotateDecision::RevokeFamily
    );
}

#[test]
fn invalid_has_no_grant_to_report() {
    for d in [
        RotateDecision::Invalid,
        RotateDecision::Rotate,
        RotateDecision::GraceRetry,
        RotateDecision::RevokeFamily,
    ] {
        assert_eq!(d.outcome(None), RotateOutcome::Invalid);
    }
    assert_eq!(
        RotateDecision::Invalid.outcome(Some(grant("g1"))),
        RotateOutcome::Invalid
    );
}

#[test]
fn check_family_accepts_its_own_and_refuses_others() {
    assert!(check_family("g1", &token("t", "g1")).is_ok());
    assert!(check_family("g1", &token("t", "g2")).is_err());
}

#[test]
fn a_disabled_account_rotates_and_retries_nothing_but_reuse_still_revokes() {
    use RotateDecision::*;
    for (decision, disabled) in [
        (Rotate, AccountDisabled),
        (GraceRetry, AccountDisabled),
        (RevokeFamily, RevokeFamily),
        (Invalid, Invalid),
    ] {
        assert_eq!(decision.for_account(true), decision);
        assert_eq!(decision.for_account(false), disabled, "{decision:?}");
    }
}
