//! Codes, grants, refresh-token rotation and revoked access tokens, sequential and racing.

use super::*;

/// Codes: redemption, expiry boundary, replay revoking the produced grant, atomic failure.
pub async fn codes<S: Store>(store: &S) {
    let c = code("cd-1", "cd-client", "cd-user", 1_000);
    store.insert_code(&c).await.unwrap();
    assert_conflict(store.insert_code(&c).await, "duplicate code");

    // The caller's draft knows nothing of the code: the store fills it in.
    let mut g = grant("cd-g1", "cd-client", None, FAR);
    g.resource = "https://placeholder.example".into();
    g.scope = ScopeSet::new();
    let r = refresh("cd-r1", "cd-g1", 5_000);
    assert_eq!(
        store
            .redeem_code("cd-none", 990, &g, Some(&r))
            .await
            .unwrap(),
        RedeemOutcome::NotFound
    );
    // Expired at exactly expires_at, and nothing is stored.
    assert_eq!(
        store
            .redeem_code("cd-1", 1_000, &g, Some(&r))
            .await
            .unwrap(),
        RedeemOutcome::NotFound
    );
    assert_eq!(store.get_grant("cd-g1").await.unwrap(), None);
    assert_eq!(store.get_refresh("cd-r1").await.unwrap(), None);

    // One second earlier it is still good.
    assert_eq!(
        store.redeem_code("cd-1", 999, &g, Some(&r)).await.unwrap(),
        RedeemOutcome::Redeemed(c.clone())
    );
    let g = produced(&g, &c);
    assert_eq!(store.get_grant("cd-g1").await.unwrap(), Some(g.clone()));
    assert_eq!(
        store.get_refresh("cd-r1").await.unwrap(),
        Some((r.clone(), g.clone()))
    );

    // Replay: the grant it produced is revoked, and its refresh token dies with it.
    let g_other = grant("cd-g2", "cd-client", Some("cd-user"), FAR);
    assert_eq!(
        store
            .redeem_code("cd-1", 999, &g_other, None)
            .await
            .unwrap(),
        RedeemOutcome::Replayed {
            revoked_grant: Some("cd-g1".into())
        }
    );
    assert_eq!(store.get_grant("cd-g2").await.unwrap(), None);
    assert_eq!(
        store.get_grant("cd-g1").await.unwrap().unwrap().revoked_at,
        Some(999)
    );
    assert_eq!(
        store
            .rotate_refresh("cd-r1", &refresh("cd-r1b", "cd-g1", 6_000), 999, 30)
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );
    // A replay after expiry is still a replay (it proves the code leaked); the first revocation
    // time stays.
    assert_eq!(
        store
            .redeem_code("cd-1", 2_000, &g_other, None)
            .await
            .unwrap(),
        RedeemOutcome::Replayed {
            revoked_grant: Some("cd-g1".into())
        }
    );
    assert_eq!(
        store.get_grant("cd-g1").await.unwrap().unwrap().revoked_at,
        Some(999)
    );

    // Without a first refresh token (e.g. no offline access).
    let c2 = code("cd-2", "cd-client", "cd-user", 1_000);
    store.insert_code(&c2).await.unwrap();
    let g3 = grant("cd-g3", "cd-client", Some("cd-user"), FAR);
    assert_eq!(
        store.redeem_code("cd-2", 500, &g3, None).await.unwrap(),
        RedeemOutcome::Redeemed(c2.clone())
    );
    assert_eq!(
        store.get_grant("cd-g3").await.unwrap(),
        Some(produced(&g3, &c2))
    );

    // A failed redemption (the grant id is taken) changes nothing: the code stays unused.
    let c3 = code("cd-3", "cd-client", "cd-user", 1_000);
    store.insert_code(&c3).await.unwrap();
    let taken = grant("cd-g3", "cd-client", Some("cd-user"), FAR);
    let r4 = refresh("cd-r4", "cd-g3", FAR);
    assert_conflict(
        store.redeem_code("cd-3", 500, &taken, Some(&r4)).await,
        "grant id taken",
    );
    assert_eq!(store.get_refresh("cd-r4").await.unwrap(), None);
    // ... and so does a first refresh token whose hash is taken.
    let g5 = grant("cd-g5", "cd-client", Some("cd-user"), FAR);
    assert_conflict(
        store
            .redeem_code("cd-3", 500, &g5, Some(&refresh("cd-r1", "cd-g5", FAR)))
            .await,
        "refresh hash taken",
    );
    assert_eq!(store.get_grant("cd-g5").await.unwrap(), None);
    assert_eq!(
        store.redeem_code("cd-3", 500, &g5, None).await.unwrap(),
        RedeemOutcome::Redeemed(c3)
    );
}

/// Grants: insert, conflicts, lookups, revocation, listing by user.
pub async fn grants<S: Store>(store: &S) {
    let g = grant("gr-1", "gr-client", Some("gr-user"), FAR);
    let r = refresh("gr-r1", "gr-1", FAR);
    store.insert_grant(&g, Some(&r)).await.unwrap();
    assert_conflict(store.insert_grant(&g, None).await, "duplicate grant");
    // A taken refresh hash fails the whole insert.
    let g2 = grant("gr-2", "gr-client", Some("gr-user"), FAR);
    assert_conflict(
        store
            .insert_grant(&g2, Some(&refresh("gr-r1", "gr-2", FAR)))
            .await,
        "duplicate refresh",
    );
    assert_eq!(store.get_grant("gr-2").await.unwrap(), None);
    // A refresh token of another family is refused.
    assert!(
        store
            .insert_grant(&g2, Some(&refresh("gr-r2", "gr-1", FAR)))
            .await
            .is_err()
    );
    assert_eq!(store.get_grant("gr-2").await.unwrap(), None);

    // Client credentials: no user, no refresh token.
    let m2m = grant("gr-m2m", "gr-client", None, FAR);
    store.insert_grant(&m2m, None).await.unwrap();
    assert_eq!(store.get_grant("gr-m2m").await.unwrap(), Some(m2m));
    assert_eq!(store.get_grant("gr-none").await.unwrap(), None);
    assert_eq!(
        store.get_refresh("gr-r1").await.unwrap(),
        Some((r.clone(), g.clone()))
    );
    assert_eq!(store.get_refresh("gr-none").await.unwrap(), None);

    // Revocation reports whether the grant was active; get_refresh still finds it.
    assert!(store.revoke_grant("gr-1", 300).await.unwrap());
    assert!(!store.revoke_grant("gr-1", 400).await.unwrap());
    assert!(!store.revoke_grant("gr-none", 400).await.unwrap());
    let (tok, revoked) = store.get_refresh("gr-r1").await.unwrap().unwrap();
    assert_eq!(tok, r);
    assert_eq!(revoked.revoked_at, Some(300));

    // Listing by user, oldest first.
    let mut newer = grant("gr-0-newer", "gr-client", Some("gr-lister"), FAR);
    newer.created_at = 200;
    let mut older = grant("gr-z-older", "gr-client", Some("gr-lister"), FAR);
    older.created_at = 100;
    store.insert_grant(&newer, None).await.unwrap();
    store.insert_grant(&older, None).await.unwrap();
    assert_eq!(
        store.list_grants_for_user("gr-lister").await.unwrap(),
        vec![older, newer]
    );
    assert_eq!(
        store.list_grants_for_user("gr-nobody").await.unwrap(),
        vec![]
    );
}

/// Rotation: rotate, grace retry at the boundary, reuse after grace, reuse with another
/// successor, reuse after the successor was used, `grace = 0`.
pub async fn rotation<S: Store>(store: &S) {
    // Rotate; a retry within grace gets the same successor.
    let g = family(store, "rot-a").await;
    let s1 = refresh("rot-a-r1", &g.id, FAR);
    assert_eq!(
        store
            .rotate_refresh("rot-a-r0", &s1, 100, 30)
            .await
            .unwrap(),
        RotateOutcome::Rotated(g.clone())
    );
    let (old, _) = store.get_refresh("rot-a-r0").await.unwrap().unwrap();
    assert_eq!(old.rotated_at, Some(100));
    assert_eq!(old.successor_hash.as_deref(), Some("rot-a-r1"));
    assert_eq!(
        store.get_refresh("rot-a-r1").await.unwrap(),
        Some((s1.clone(), g.clone()))
    );
    assert_eq!(
        store
            .rotate_refresh("rot-a-r0", &s1, 110, 30)
            .await
            .unwrap(),
        RotateOutcome::GraceRetry(g.clone())
    );
    // The successor goes on normally.
    let s2 = refresh("rot-a-r2", &g.id, FAR);
    assert_eq!(
        store
            .rotate_refresh("rot-a-r1", &s2, 111, 30)
            .await
            .unwrap(),
        RotateOutcome::Rotated(g.clone())
    );
    // Once the successor was used, a retry of the first token is reuse, even within grace.
    assert_eq!(
        store
            .rotate_refresh("rot-a-r0", &s1, 112, 30)
            .await
            .unwrap(),
        RotateOutcome::Reused {
            grant_id: g.id.clone()
        }
    );
    assert_eq!(
        store.get_grant(&g.id).await.unwrap().unwrap().revoked_at,
        Some(112)
    );
    assert_eq!(
        store
            .rotate_refresh("rot-a-r2", &refresh("rot-a-r3", &g.id, FAR), 113, 30)
            .await
            .unwrap(),
        RotateOutcome::Invalid,
        "the whole family is dead"
    );

    // Reuse one second after the grace window revokes the family.
    let g = family(store, "rot-b").await;
    let s1 = refresh("rot-b-r1", &g.id, FAR);
    store
        .rotate_refresh("rot-b-r0", &s1, 100, 30)
        .await
        .unwrap();
    // Exactly at the end of the window: still a retry.
    assert_eq!(
        store
            .rotate_refresh("rot-b-r0", &s1, 130, 30)
            .await
            .unwrap(),
        RotateOutcome::GraceRetry(g.clone())
    );
    assert_eq!(
        store
            .rotate_refresh("rot-b-r0", &s1, 131, 30)
            .await
            .unwrap(),
        RotateOutcome::Reused {
            grant_id: g.id.clone()
        }
    );
    assert!(is_revoked(store, &g.id).await);
    assert_eq!(
        store
            .rotate_refresh("rot-b-r1", &refresh("rot-b-r2", &g.id, FAR), 132, 30)
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );

    // Within grace but with another successor: reuse.
    let g = family(store, "rot-c").await;
    store
        .rotate_refresh("rot-c-r0", &refresh("rot-c-r1", &g.id, FAR), 100, 30)
        .await
        .unwrap();
    assert_eq!(
        store
            .rotate_refresh("rot-c-r0", &refresh("rot-c-rX", &g.id, FAR), 101, 30)
            .await
            .unwrap(),
        RotateOutcome::Reused {
            grant_id: g.id.clone()
        }
    );
    assert!(is_revoked(store, &g.id).await);
    assert_eq!(store.get_refresh("rot-c-rX").await.unwrap(), None);

    // grace = 0 disables the window: even a retry in the same second is reuse.
    let g = family(store, "rot-d").await;
    let s1 = refresh("rot-d-r1", &g.id, FAR);
    store.rotate_refresh("rot-d-r0", &s1, 100, 0).await.unwrap();
    assert_eq!(
        store.rotate_refresh("rot-d-r0", &s1, 100, 0).await.unwrap(),
        RotateOutcome::Reused {
            grant_id: g.id.clone()
        }
    );
    assert!(is_revoked(store, &g.id).await);
}

/// Rotation refusals: unknown, expiry boundaries of token and family, revoked family, taken
/// successor hash, successor of another family.
/// A disabled account's family: its token is neither rotated nor retried (so it refreshes again
/// once the account is enabled), a reuse still revokes the family, a missing account refreshes
/// nothing, and a family without a user (client credentials) is not checked.
pub async fn rotation_of_a_disabled_account<S: Store>(store: &S) {
    account(store, "rd-user").await;
    let g = grant("rd-g", "rd-client", Some("rd-user"), FAR);
    store
        .insert_grant(&g, Some(&refresh("rd-r0", "rd-g", FAR)))
        .await
        .unwrap();
    let s1 = refresh("rd-r1", "rd-g", FAR);
    assert!(store.set_user_disabled("rd-user", Some(90)).await.unwrap());
    assert_eq!(
        store.rotate_refresh("rd-r0", &s1, 100, 30).await.unwrap(),
        RotateOutcome::AccountDisabled
    );
    let (t, _) = store.get_refresh("rd-r0").await.unwrap().unwrap();
    assert_eq!((t.rotated_at, t.successor_hash), (None, None), "unchanged");
    assert_eq!(store.get_refresh("rd-r1").await.unwrap(), None);
    assert!(store.set_user_disabled("rd-user", None).await.unwrap());
    assert_eq!(
        store.rotate_refresh("rd-r0", &s1, 200, 30).await.unwrap(),
        RotateOutcome::Rotated(g.clone()),
        "enabled again: the same token"
    );
    // Disabled again: a grace retry hands out nothing either, but a reuse revokes.
    assert!(store.set_user_disabled("rd-user", Some(201)).await.unwrap());
    assert_eq!(
        store.rotate_refresh("rd-r0", &s1, 210, 30).await.unwrap(),
        RotateOutcome::AccountDisabled
    );
    assert_eq!(
        store.rotate_refresh("rd-r0", &s1, 300, 30).await.unwrap(),
        RotateOutcome::Reused {
            grant_id: "rd-g".into()
        }
    );
    assert!(
        store
            .get_grant("rd-g")
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );

    // A grant naming an account that does not exist refreshes nothing.
    let ghost = grant("rd-ghost", "rd-client", Some("rd-nobody"), FAR);
    store
        .insert_grant(&ghost, Some(&refresh("rd-ghost-r0", "rd-ghost", FAR)))
        .await
        .unwrap();
    assert_eq!(
        store
            .rotate_refresh(
                "rd-ghost-r0",
                &refresh("rd-ghost-r1", "rd-ghost", FAR),
                100,
                30
            )
            .await
            .unwrap(),
        RotateOutcome::AccountDisabled
    );
    // Without a user, no account to check.
    let machine = grant("rd-m", "rd-client", None, FAR);
    store
        .insert_grant(&machine, Some(&refresh("rd-m-r0", "rd-m", FAR)))
        .await
        .unwrap();
    assert_eq!(
        store
            .rotate_refresh("rd-m-r0", &refresh("rd-m-r1", "rd-m", FAR), 100, 30)
            .await
            .unwrap(),
        RotateOutcome::Rotated(machine)
    );
}

pub async fn rotation_failures<S: Store>(store: &S) {
    account(store, "rf-user").await;
    let next = |h: &str, g: &str| refresh(h, g, FAR);
    assert_eq!(
        store
            .rotate_refresh("rf-none", &next("rf-x", "rf-g"), 100, 30)
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );

    // The token is dead at exactly its expires_at, alive one second before.
    let g = grant("rf-g1", "rf-client", Some("rf-user"), FAR);
    store
        .insert_grant(&g, Some(&refresh("rf-g1-r0", "rf-g1", 500)))
        .await
        .unwrap();
    assert_eq!(
        store
            .rotate_refresh("rf-g1-r0", &next("rf-g1-r1", "rf-g1"), 500, 30)
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );
    assert_eq!(store.get_refresh("rf-g1-r1").await.unwrap(), None);
    assert_eq!(
        store
            .rotate_refresh("rf-g1-r0", &next("rf-g1-r1", "rf-g1"), 499, 30)
            .await
            .unwrap(),
        RotateOutcome::Rotated(g.clone())
    );
    // An expired, already rotated token is just invalid: it does not revoke the family.
    assert_eq!(
        store
            .rotate_refresh("rf-g1-r0", &next("rf-g1-r1", "rf-g1"), 500, 30)
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );
    assert!(!is_revoked(store, "rf-g1").await);

    // The family is dead at exactly its expires_at.
    let g = grant("rf-g2", "rf-client", Some("rf-user"), 800);
    store
        .insert_grant(&g, Some(&refresh("rf-g2-r0", "rf-g2", FAR)))
        .await
        .unwrap();
    assert_eq!(
        store
            .rotate_refresh("rf-g2-r0", &next("rf-g2-r1", "rf-g2"), 800, 30)
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );
    assert_eq!(
        store
            .rotate_refresh("rf-g2-r0", &next("rf-g2-r1", "rf-g2"), 799, 30)
            .await
            .unwrap(),
        RotateOutcome::Rotated(g)
    );

    // A revoked family.
    let g = family(store, "rf-g3").await;
    assert!(store.revoke_grant(&g.id, 100).await.unwrap());
    assert_eq!(
        store
            .rotate_refresh("rf-g3-r0", &next("rf-g3-r1", &g.id), 101, 30)
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );

    // A successor hash that is taken fails and changes nothing.
    let g = family(store, "rf-g4").await;
    assert_conflict(
        store
            .rotate_refresh("rf-g4-r0", &next("rf-g1-r1", &g.id), 100, 30)
            .await,
        "successor hash taken",
    );
    let (t, _) = store.get_refresh("rf-g4-r0").await.unwrap().unwrap();
    assert_eq!((t.rotated_at, t.successor_hash), (None, None));
    // A successor of another family is refused.
    assert!(
        store
            .rotate_refresh("rf-g4-r0", &next("rf-g4-r1", "rf-g1"), 100, 30)
            .await
            .is_err()
    );
    assert_eq!(store.get_refresh("rf-g4-r1").await.unwrap(), None);
    assert_eq!(
        store
            .rotate_refresh("rf-g4-r0", &next("rf-g4-r1", &g.id), 100, 30)
            .await
            .unwrap(),
        RotateOutcome::Rotated(g)
    );
}

/// Revoked access-token ids.
pub async fn access_token_revocation<S: Store>(store: &S) {
    assert!(!store.is_access_token_revoked("at-1").await.unwrap());
    store.revoke_access_token("at-1", 5_000).await.unwrap();
    assert!(store.is_access_token_revoked("at-1").await.unwrap());
    // Revoking again is fine (idempotent).
    store.revoke_access_token("at-1", 5_000).await.unwrap();
    assert!(store.is_access_token_revoked("at-1").await.unwrap());
    assert!(!store.is_access_token_revoked("at-2").await.unwrap());
}

/// 50 simultaneous redemptions of one code: exactly one wins; every other one is a replay that
/// revokes the winner's grant; no loser's grant is stored.
pub async fn concurrent_redeem<S: Store>(store: Arc<S>) {
    store
        .insert_code(&code("cc-code", "cc-client", "cc-user", FAR))
        .await
        .unwrap();
    let outcomes = race(&store, |s, i| async move {
        let g = grant(&format!("cc-g{i}"), "cc-client", Some("cc-user"), FAR);
        let r = refresh(&format!("cc-r{i}"), &g.id, FAR);
        s.redeem_code("cc-code", 100, &g, Some(&r)).await
    })
    .await;
    let winners: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| matches!(o, Ok(RedeemOutcome::Redeemed(_))))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one redemption: {outcomes:?}");
    let winner = format!("cc-g{}", winners[0]);
    for (i, o) in outcomes.iter().enumerate() {
        if i != winners[0] {
            assert_eq!(
                o.as_ref().expect("no backend error"),
                &RedeemOutcome::Replayed {
                    revoked_grant: Some(winner.clone())
                }
            );
            assert_eq!(store.get_grant(&format!("cc-g{i}")).await.unwrap(), None);
        }
    }
    assert!(is_revoked(&*store, &winner).await, "replay revoked it");
}

/// 50 simultaneous rotations of one token with different successors and no grace: exactly one
/// rotates; the others are reuse (or find the family already revoked); the family ends revoked.
pub async fn concurrent_rotate_without_grace<S: Store>(store: Arc<S>) {
    let g = family(&*store, "cr0").await;
    let outcomes = race(&store, |s, i| async move {
        let next = refresh(&format!("cr0-s{i}"), "cr0-g", FAR);
        s.rotate_refresh("cr0-r0", &next, 100, 0).await
    })
    .await;
    let mut rotated = 0;
    let mut reused = 0;
    for o in &outcomes {
        match o.as_ref().expect("no backend error") {
            RotateOutcome::Rotated(got) => {
                assert_eq!(got, &g);
                rotated += 1;
            }
            RotateOutcome::Reused { grant_id } => {
                assert_eq!(grant_id, &g.id);
                reused += 1;
            }
            RotateOutcome::Invalid => {}
            RotateOutcome::GraceRetry(_) => panic!("different successors never get grace"),
            RotateOutcome::AccountDisabled => panic!("the account is enabled"),
        }
    }
    assert_eq!(rotated, 1, "exactly one rotation: {outcomes:?}");
    assert!(reused >= 1, "the first loser detects reuse");
    assert!(is_revoked(&*store, &g.id).await);
}

/// 50 simultaneous retries of one token with the same successor inside the grace window:
/// exactly one rotates, the rest are grace retries, and the family stays active.
pub async fn concurrent_rotate_with_grace<S: Store>(store: Arc<S>) {
    let g = family(&*store, "cr30").await;
    let outcomes = race(&store, |s, _| async move {
        let next = refresh("cr30-s", "cr30-g", FAR);
        s.rotate_refresh("cr30-r0", &next, 100, 30).await
    })
    .await;
    let mut rotated = 0;
    for o in &outcomes {
        match o.as_ref().expect("no backend error") {
            RotateOutcome::Rotated(got) => {
                assert_eq!(got, &g);
                rotated += 1;
            }
            RotateOutcome::GraceRetry(got) => assert_eq!(got, &g),
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(rotated, 1, "exactly one rotation: {outcomes:?}");
    assert!(!is_revoked(&*store, &g.id).await, "the family stays active");
    let (old, _) = store.get_refresh("cr30-r0").await.unwrap().unwrap();
    assert_eq!(old.successor_hash.as_deref(), Some("cr30-s"));
    assert_eq!(
        store
            .rotate_refresh("cr30-s", &refresh("cr30-s2", "cr30-g", FAR), 101, 30)
            .await
            .unwrap(),
        RotateOutcome::Rotated(g)
    );
}
