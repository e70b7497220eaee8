//! Racing redemptions over HTTP: exactly one success.

use crate::common::*;
use reqwest::StatusCode;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_code_redemptions_give_one_success() {
    let s = Arc::new(TestServer::start().await);
    let code = s.code("mcp:tools").await;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let s = s.clone();
        let code = code.clone();
        tasks.push(tokio::spawn(
            async move { s.exchange(&code).await.status() },
        ));
    }
    assert_eq!(successes(tasks).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_refreshes_give_one_success() {
    let s = Arc::new(TestServer::start_with(|c| c.refresh_grace = 0).await);
    let t = s.tokens("mcp:tools").await;
    let rt = t["refresh_token"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let s = s.clone();
        let rt = rt.clone();
        tasks.push(tokio::spawn(async move {
            s.post_form(
                "/token",
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", PUBLIC_CLIENT),
                    ("refresh_token", &rt),
                ],
            )
            .await
            .status()
        }));
    }
    assert_eq!(successes(tasks).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_inside_the_grace_window_share_one_successor() {
    let s = Arc::new(TestServer::start().await);
    let t = s.tokens("mcp:tools").await;
    let rt = t["refresh_token"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let s = s.clone();
        let rt = rt.clone();
        tasks.push(tokio::spawn(async move {
            let r = s
                .post_form(
                    "/token",
                    &[
                        ("grant_type", "refresh_token"),
                        ("client_id", PUBLIC_CLIENT),
                        ("refresh_token", &rt),
                    ],
                )
                .await;
            let st = r.status();
            let v: serde_json::Value = r.json().await.unwrap();
            (st, v["refresh_token"].as_str().map(str::to_owned))
        }));
    }
    let mut successors = std::collections::BTreeSet::new();
    for t in tasks {
        let (st, rt2) = t.await.unwrap();
        assert_eq!(st, StatusCode::OK);
        successors.insert(rt2.unwrap());
    }
    assert_eq!(successors.len(), 1, "one rotation, one successor");
}

/// How many of the racing requests succeeded; every other one must be a clean `400`.
async fn successes(tasks: Vec<tokio::task::JoinHandle<StatusCode>>) -> usize {
    let mut ok = 0;
    for t in tasks {
        let st = t.await.unwrap();
        assert!(
            st == StatusCode::OK || st == StatusCode::BAD_REQUEST,
            "{st}"
        );
        ok += usize::from(st == StatusCode::OK);
    }
    ok
}
