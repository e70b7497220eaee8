//! Federated login against a live OpenID provider (node-oidc-provider): our login page's
//! button, our consent before forwarding, the provider's own login and consent pages, back to
//! our callback, our code and token; then everything a hostile party could try at the callback.

use crate::common::{CHALLENGE, PUBLIC_REDIRECT, TestServer, query_param};
use crate::idp::{Browser, CLIENT_ID, CLIENT_SECRET, Idp};
use base64::Engine;
use mcp_oauth_core::secret::Secret;
use mcp_oauth_core::token::grant_type::TOKEN_EXCHANGE;
use mcp_oauth_server::admin::{self, NewClient};
use mcp_oauth_server::config::{Preset, UpstreamConfig};

const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
use reqwest::StatusCode;
use serde_json::Value;

pub(crate) fn wall_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub(crate) fn block(id: &str, name: &str, issuer: &str) -> UpstreamConfig {
    let mut b = UpstreamConfig::new(id, Preset::Oidc, CLIENT_ID);
    b.name = Some(name.into());
    b.issuer = Some(issuer.into());
    b.insecure_http = true;
    b.client_secret = Some(Secret::new(CLIENT_SECRET));
    b
}

/// Our server with `ids` as upstream blocks at one live provider, which accepts their
/// callbacks; `tune` adjusts the blocks.
pub(crate) async fn setup(
    ids: &[(&str, &str)],
    tune: impl FnOnce(&mut Vec<UpstreamConfig>),
) -> Option<(TestServer, Idp)> {
    setup_with(ids, &[], |c| tune(&mut c.upstream)).await
}

/// As [`setup`], with settings of the provider (`env`) and of our whole configuration.
pub(crate) async fn setup_with(
    ids: &[(&str, &str)],
    env: &[(&str, &str)],
    tune: impl FnOnce(&mut mcp_oauth_server::config::ServerConfig),
) -> Option<(TestServer, Idp)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let callbacks: Vec<String> = ids
        .iter()
        .map(|(id, _)| format!("{base}/upstream/{id}/callback"))
        .collect();
    let idp = Idp::start_with(&callbacks, env)?;
    let blocks: Vec<UpstreamConfig> = ids
        .iter()
        .map(|(id, name)| block(id, name, &idp.issuer))
        .collect();
    let server = TestServer::start_on(listener, wall_clock(), |c| {
        // Our tokens outlive the upstream's (one hour), so the refresh before an exchange shows.
        c.access_token_ttl = 7_200;
        c.upstream = blocks;
        tune(c);
    })
    .await;
    Some((server, idp))
}

/// From our `/authorize` to the provider's authorization URL: the login page's button, then
/// our consent page for the client, approved.
async fn begin(srv: &TestServer, b: &Browser, name: &str) -> String {
    let login = b
        .get(&srv.authorize_url(&srv.authorize_query("mcp:tools")))
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let action = login.form_action(&format!("Continue with {name}"));
    let (csrf, aq) = (login.hidden("csrf_token"), login.hidden("authorize_query"));
    let consent = b
        .post(
            &srv.url(&action),
            &[("csrf_token", &csrf), ("authorize_query", &aq)],
        )
        .await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    assert!(
        consent
            .body
            .contains(&format!("Allow and continue with {name}"))
    );
    assert!(
        consent.body.contains("Public &lt;App&gt;"),
        "our consent names the MCP client"
    );
    let csp = consent.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:4567 http://127.0.0.1:"),
        "the form may lead only to the client and the provider: {csp}"
    );
    let go = b
        .post(
            &srv.url(&action),
            &[
                ("csrf_token", &csrf),
                ("authorize_query", &aq),
                ("approve", "1"),
            ],
        )
        .await;
    assert_eq!(go.status, StatusCode::SEE_OTHER, "{}", go.body);
    go.location.unwrap()
}

/// The whole sign-in of `login` through block `name`; the answer of our callback.
pub(crate) async fn sign_in(
    srv: &TestServer,
    idp: &Idp,
    b: &Browser,
    name: &str,
    login: &str,
) -> crate::idp::Answer {
    let auth = begin(srv, b, name).await;
    let back = b.sign_in_upstream(idp, &auth, login).await;
    b.get(&back).await
}

pub(crate) fn code_of(answer: &crate::idp::Answer) -> String {
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let loc = answer.location.clone().unwrap();
    assert!(loc.starts_with(PUBLIC_REDIRECT), "{loc}");
    query_param(&loc, "code").expect("a code")
}

/// Registers the MCP server's confidential client `mcp-server`, which may exchange tokens for
/// the test resource; its secret.
pub(crate) async fn exchange_client(srv: &TestServer) -> String {
    let (_, secret) = admin::add_client(
        srv.store().as_ref(),
        NewClient {
            name: "MCP server".into(),
            client_id: Some("mcp-server".into()),
            grant_types: vec![TOKEN_EXCHANGE.into()],
            introspect_resources: vec![srv.resource.clone()],
            ..Default::default()
        },
        srv.state.now(),
    )
    .await
    .unwrap();
    secret.unwrap().expose().to_owned()
}

/// RFC 8693 at our `/token` as the client `who`.
pub(crate) async fn exchange(
    srv: &TestServer,
    who: &str,
    secret: &str,
    token: &str,
    audience: &str,
) -> (StatusCode, Value) {
    let r = srv
        .post_basic(
            "/token",
            who,
            secret,
            &[
                ("grant_type", TOKEN_EXCHANGE),
                ("subject_token", token),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("audience", audience),
            ],
        )
        .await;
    let status = r.status();
    (status, r.json().await.unwrap())
}

/// The provider's userinfo endpoint with an upstream access token.
pub(crate) async fn userinfo(idp: &Idp, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}/me", idp.issuer))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn sign_in_through_a_live_openid_provider() {
    let Some((srv, idp)) = setup(&[("corp", "Corp")], |b| {
        b[0].scopes = Some(
            ["openid", "email", "profile", "offline_access"]
                .map(String::from)
                .to_vec(),
        );
    })
    .await
    else {
        return;
    };
    let b = Browser::new();
    let auth = begin(&srv, &b, "Corp").await;
    assert!(auth.starts_with(&format!("{}/auth?", idp.issuer)), "{auth}");
    for p in ["state", "nonce", "code_challenge"] {
        assert!(query_param(&auth, p).is_some_and(|v| v.len() >= 43), "{p}");
    }
    assert_eq!(
        query_param(&auth, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_ne!(
        query_param(&auth, "code_challenge").as_deref(),
        Some(CHALLENGE),
        "our own PKCE"
    );
    let back = b.sign_in_upstream(&idp, &auth, "ann").await;
    assert!(
        back.contains("/upstream/corp/callback?") && back.contains("iss="),
        "{back}"
    );
    let done = b.get(&back).await;
    let code = code_of(&done);
    // No signed-in session of ours stays behind: the next authorization asks again.
    let next = b
        .get(&srv.authorize_url(&srv.authorize_query("mcp:tools")))
        .await;
    assert!(next.body.contains("Continue with Corp"), "{}", next.body);
    let r = srv.exchange(&code).await;
    assert_eq!(r.status(), StatusCode::OK);
    let tokens: Value = r.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let info = srv.introspect(access).await;
    assert_eq!(info["active"], true);
    let links = srv.store().list_upstream_links().await.unwrap();
    assert_eq!(links.len(), 1);
    let link = &links[0];
    assert_eq!(
        (link.upstream_id.as_str(), link.subject.as_str()),
        ("corp", "ann")
    );
    assert_eq!(
        link.email.as_deref(),
        Some("ann@corp.example"),
        "from userinfo"
    );
    assert!(link.email_verified);
    assert_eq!(info["sub"], link.user_id.as_str());
    let user = srv.store().get_user(&link.user_id).await.unwrap().unwrap();
    assert_eq!(user.username, "corp-ann");
    // The upstream's token is kept with the grant, sealed; never handed to the MCP client.
    let gid = claims(access)["gid"].as_str().unwrap().to_owned();
    let kept = srv
        .store()
        .get_grant_upstream_tokens(&gid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.upstream_id, "corp");
    assert!(tokens.get("upstream_token").is_none() && tokens.as_object().unwrap().len() <= 6);

    // The callback again: the state was consumed.
    let replay = b.get(&back).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert!(replay.body.contains("already used"), "{}", replay.body);

    // Signing in again (a new browser) is the same user, and our consent is asked again.
    let again = sign_in(&srv, &idp, &Browser::new(), "Corp", "ann").await;
    code_of(&again);
    assert_eq!(srv.store().list_upstream_links().await.unwrap().len(), 1);

    // The MCP server exchanges the user's token for the upstream one (RFC 8693).
    let secret = exchange_client(&srv).await;
    let (status, got) = exchange(&srv, "mcp-server", &secret, access, "corp").await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["issued_token_type"], ACCESS_TOKEN_TYPE);
    assert_eq!(got["token_type"], "Bearer");
    assert!(got.get("refresh_token").is_none());
    let upstream_token = got["access_token"].as_str().unwrap().to_owned();
    let me: Value = userinfo(&idp, &upstream_token).await.json().await.unwrap();
    assert_eq!(me["sub"], "ann", "the user's own token at the provider");
    // Refused: an unknown upstream, another caller, a token for another resource.
    let (status, err) = exchange(&srv, "mcp-server", &secret, access, "nope").await;
    assert_eq!(
        (status, err["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_target"))
    );
    let rs_secret = srv.rs_secret.clone();
    let (status, err) = exchange(&srv, crate::common::RS_CLIENT, &rs_secret, access, "corp").await;
    assert_eq!(
        (status, err["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client")),
        "{err}"
    );
    let (_, other_secret) = admin::add_client(
        srv.store().as_ref(),
        NewClient {
            name: "Other MCP server".into(),
            client_id: Some("other-server".into()),
            grant_types: vec![TOKEN_EXCHANGE.into()],
            introspect_resources: vec![srv.other_resource.clone()],
            ..Default::default()
        },
        wall_clock(),
    )
    .await
    .unwrap();
    let other_secret = other_secret.unwrap().expose().to_owned();
    let (status, err) = exchange(&srv, "other-server", &other_secret, access, "corp").await;
    assert_eq!(
        (status, err["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // When the upstream token is about to expire it is refreshed first (offline_access).
    // Several at once: one refresh, the others wait for it and get its token.
    srv.clock.advance(3_600);
    let all = futures::future::join_all(
        (0..4).map(|_| exchange(&srv, "mcp-server", &secret, access, "corp")),
    )
    .await;
    let tokens_now: std::collections::BTreeSet<String> = all
        .iter()
        .map(|(status, got)| {
            assert_eq!(*status, StatusCode::OK, "{got}");
            got["access_token"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(tokens_now.len(), 1, "one refresh for concurrent exchanges");
    let refreshed = tokens_now.into_iter().next().unwrap();
    assert_ne!(refreshed, upstream_token, "a new upstream token");
    assert_eq!(userinfo(&idp, &refreshed).await.status(), StatusCode::OK);

    // Revoking the grant deletes the upstream tokens kept with it, and revokes them upstream.
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let r = srv
        .post_form(
            "/revoke",
            &[
                ("client_id", crate::common::PUBLIC_CLIENT),
                ("token", refresh),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        srv.store()
            .get_grant_upstream_tokens(&gid)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        userinfo(&idp, &refreshed).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (status, err) = exchange(&srv, "mcp-server", &secret, access, "corp").await;
    assert_eq!(
        (status, err["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn hostile_callbacks_are_refused_and_write_nothing() {
    let Some((srv, idp)) = setup(
        &[("corp", "Corp"), ("twin", "Twin"), ("strict", "Strict")],
        |b| {
            b[1].link_by_email = true;
            b[2].allowed_email_domains = vec!["other.example".into()];
        },
    )
    .await
    else {
        return;
    };
    let links = || async { srv.store().list_upstream_links().await.unwrap().len() };

    // RFC 9207: an `iss` that is not the provider's.
    let b = Browser::new();
    let auth = begin(&srv, &b, "Corp").await;
    let back = b.sign_in_upstream(&idp, &auth, "ann").await;
    let forged = back.replace("iss=", "iss=http%3A%2F%2Fevil.example&x=");
    let page = b.get(&forged).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(page.body.contains("iss mismatch"), "{}", page.body);
    assert_eq!(links().await, 0);

    // Another browser (no session cookie) presenting a genuine answer.
    let b = Browser::new();
    let auth = begin(&srv, &b, "Corp").await;
    let back = b.sign_in_upstream(&idp, &auth, "ann").await;
    let page = Browser::new().get(&back).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("another browser"), "{}", page.body);

    // An answer for block corp delivered at block twin's callback (mix-up).
    let b = Browser::new();
    let auth = begin(&srv, &b, "Corp").await;
    let back = b.sign_in_upstream(&idp, &auth, "ann").await;
    let page = b
        .get(&back.replace("/upstream/corp/", "/upstream/twin/"))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.body.contains("another identity provider"),
        "{}",
        page.body
    );

    // The provider's own error, with its code.
    let b = Browser::new();
    let auth = begin(&srv, &b, "Corp").await;
    let st = query_param(&auth, "state").unwrap();
    let q = serde_urlencoded::to_string([
        ("error", "access_denied"),
        ("error_description", "End-User aborted interaction"),
        ("state", st.as_str()),
        ("iss", idp.issuer.as_str()),
    ])
    .unwrap();
    let page = b
        .get(&srv.url(&format!("/upstream/corp/callback?{q}")))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("access_denied"), "{}", page.body);
    assert_eq!(links().await, 0, "nothing written by any refusal");

    // An account the block does not admit: refused, and no user made.
    let page = sign_in(&srv, &idp, &Browser::new(), "Strict", "ann").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert!(page.body.contains("allowed domain"), "{}", page.body);
    assert_eq!(links().await, 0);
    let users_before = srv.store().list_users().await.unwrap().len();

    // The same subject through two blocks: two accounts.
    code_of(&sign_in(&srv, &idp, &Browser::new(), "Corp", "ann").await);
    code_of(&sign_in(&srv, &idp, &Browser::new(), "Twin", "bea").await);
    code_of(&sign_in(&srv, &idp, &Browser::new(), "Corp", "bea").await);
    let all = srv.store().list_upstream_links().await.unwrap();
    let bea: Vec<_> = all.iter().filter(|l| l.subject == "bea").collect();
    assert_eq!(bea.len(), 2);
    assert_ne!(
        bea[0].user_id, bea[1].user_id,
        "linked by (upstream, subject), not subject"
    );

    // An unverified e-mail equal to ann's verified one takes nothing over, even with linking
    // by e-mail on: a new account.
    let ann = srv
        .store()
        .get_upstream_link("corp", "ann")
        .await
        .unwrap()
        .unwrap();
    code_of(&sign_in(&srv, &idp, &Browser::new(), "Twin", "unverified-ann").await);
    let eve = srv
        .store()
        .get_upstream_link("twin", "unverified-ann")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(eve.email.as_deref(), Some("ann@corp.example"));
    assert!(!eve.email_verified);
    assert_ne!(eve.user_id, ann.user_id);
    assert_eq!(
        srv.store().list_users().await.unwrap().len(),
        users_before + 4
    );
}

/// A listener that accepts connections and answers each with `reply` (or never, when `None`).
async fn stand_in(reply: Option<&'static str>) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = l.accept().await {
            match reply {
                Some(r) => {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let _ = s.write_all(r.as_bytes()).await;
                }
                None => held.push(s),
            }
        }
    });
    url
}

#[tokio::test]
async fn an_upstream_that_hangs_or_answers_garbage_gets_a_page() {
    let hang = stand_in(None).await;
    let garbage = stand_in(Some(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 9\r\nconnection: close\r\n\r\n{not json",
    ))
    .await;
    let srv = TestServer::start_with(|c| {
        c.fetch_timeout_ms = 500;
        c.upstream = vec![
            block("hang", "Hang", &hang),
            block("junk", "Junk", &garbage),
        ];
    })
    .await;
    for (name, status, says) in [
        ("Hang", StatusCode::BAD_GATEWAY, "could not be reached"),
        (
            "Junk",
            StatusCode::BAD_GATEWAY,
            "not a valid metadata document",
        ),
    ] {
        let b = Browser::new();
        let login = b
            .get(&srv.authorize_url(&srv.authorize_query("mcp:tools")))
            .await;
        let action = login.form_action(&format!("Continue with {name}"));
        let page = b
            .post(
                &srv.url(&action),
                &[
                    ("csrf_token", &login.hidden("csrf_token")),
                    ("authorize_query", &login.hidden("authorize_query")),
                ],
            )
            .await;
        assert_eq!(page.status, status, "{name}: {}", page.body);
        assert!(page.body.contains(says), "{name}: {}", page.body);
        assert!(
            page.headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
    }
    // Token exchange is advertised only with upstreams to exchange for.
    let meta: Value = srv
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert!(
        meta["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&Value::from(TOKEN_EXCHANGE))
    );
    // An unknown block, and a callback without state.
    let page = Browser::new()
        .get(&srv.url("/upstream/nope/callback?state=x"))
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = Browser::new()
        .get(&srv.url("/upstream/hang/callback?code=x"))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("no state"));
}

#[tokio::test]
async fn local_login_off_leaves_only_the_upstream_buttons() {
    let srv = TestServer::start_with(|c| {
        c.upstream = vec![block("corp", "Corp", "http://127.0.0.1:9")];
        c.local_login = false;
    })
    .await;
    let b = Browser::new();
    let login = b
        .get(&srv.authorize_url(&srv.authorize_query("mcp:tools")))
        .await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("Continue with Corp"));
    assert!(!login.body.contains("type=\"password\""), "{}", login.body);
    let r = b
        .post(
            &srv.url("/login"),
            &[
                ("csrf_token", &login.hidden("csrf_token")),
                ("authorize_query", &login.hidden("authorize_query")),
                ("username", "alice"),
                ("password", "wonderland"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let plain = TestServer::start().await;
    let meta: Value = plain
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert!(
        !meta["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&Value::from(TOKEN_EXCHANGE))
    );
}
