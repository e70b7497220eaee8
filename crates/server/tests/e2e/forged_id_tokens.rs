//! ID tokens that must not sign anyone in, from a stand-in OpenID provider that speaks the
//! protocol exactly (discovery, JWKS, the authorization redirect, the token endpoint) and signs
//! with its published key, but lies in one claim at a time: another issuer, another audience, the
//! nonce of an earlier sign-in (a replay), an expired token, a key it does not publish.

use crate::common::{TestServer, query_param};
use crate::idp::Browser;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::routing::{get, post};
use mcp_oauth_core::jose::{Algorithm, SigningKey};
use mcp_oauth_core::secret::Secret;
use mcp_oauth_server::config::{Preset, UpstreamConfig};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Lie {
    None,
    Issuer,
    Audience,
    ReplayedNonce,
    Expired,
    UnpublishedKey,
}

struct Provider {
    base: String,
    key: SigningKey,
    other_key: SigningKey,
    lie: Mutex<Lie>,
    /// code → nonce of its sign-in; and the nonce of the sign-in before.
    codes: Mutex<HashMap<String, String>>,
    previous_nonce: Mutex<Option<String>>,
}

async fn discovery(State(p): State<Arc<Provider>>) -> Json<Value> {
    Json(json!({
        "issuer": p.base,
        "authorization_endpoint": format!("{}/auth", p.base),
        "token_endpoint": format!("{}/token", p.base),
        "jwks_uri": format!("{}/jwks", p.base),
    }))
}

async fn jwks(State(p): State<Arc<Provider>>) -> Json<Value> {
    Json(json!({"keys": [p.key.public_jwk()]}))
}

async fn authorize(
    State(p): State<Arc<Provider>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let code = format!("code-{}", q["nonce"]);
    p.codes
        .lock()
        .unwrap()
        .insert(code.clone(), q["nonce"].clone());
    let state: String = url::form_urlencoded::byte_serialize(q["state"].as_bytes()).collect();
    Redirect::to(&format!("{}?code={code}&state={state}", q["redirect_uri"])).into_response()
}

async fn token(State(p): State<Arc<Provider>>, Form(f): Form<HashMap<String, String>>) -> Response {
    let Some(nonce) = p.codes.lock().unwrap().remove(&f["code"]) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    };
    let lie = *p.lie.lock().unwrap();
    let previous = p.previous_nonce.lock().unwrap().replace(nonce.clone());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut claims = json!({
        "iss": p.base, "aud": "forged-client", "sub": "victim", "nonce": nonce,
        "iat": now, "exp": now + 300, "email": "victim@corp.example", "email_verified": true,
    });
    match lie {
        Lie::None | Lie::UnpublishedKey => {}
        Lie::Issuer => claims["iss"] = json!("https://accounts.other.example"),
        Lie::Audience => claims["aud"] = json!("another-client"),
        Lie::ReplayedNonce => claims["nonce"] = json!(previous.unwrap()),
        Lie::Expired => {
            claims["iat"] = json!(now - 400);
            claims["exp"] = json!(now - 100);
        }
    }
    let key = if lie == Lie::UnpublishedKey {
        &p.other_key
    } else {
        &p.key
    };
    let id_token = key.sign("JWT", &claims).unwrap();
    Json(json!({"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": id_token}))
        .into_response()
}

async fn provider() -> Arc<Provider> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let p = Arc::new(Provider {
        base: format!("http://{}", l.local_addr().unwrap()),
        key: SigningKey::generate(Algorithm::ES256).unwrap(),
        other_key: SigningKey::generate(Algorithm::ES256).unwrap(),
        lie: Mutex::new(Lie::None),
        codes: Mutex::default(),
        previous_nonce: Mutex::default(),
    });
    let app = axum::Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/auth", get(authorize))
        .route("/token", post(token))
        .with_state(p.clone());
    tokio::spawn(async move { axum::serve(l, app).await });
    p
}

#[tokio::test]
async fn lying_id_tokens_sign_nobody_in() {
    let p = provider().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = p.base.clone();
    let srv = TestServer::start_on(listener, now, |c| {
        let mut b = UpstreamConfig::new("forged", Preset::Oidc, "forged-client");
        b.name = Some("Forged".into());
        b.issuer = Some(issuer);
        b.insecure_http = true;
        b.client_secret = Some(Secret::new("s"));
        c.upstream = vec![b];
    })
    .await;
    for (lie, says) in [
        (Lie::None, ""),
        (Lie::Issuer, "another issuer"),
        (Lie::Audience, "another client"),
        (Lie::ReplayedNonce, "nonce mismatch"),
        (Lie::Expired, "expired"),
        (Lie::UnpublishedKey, "signature"),
    ] {
        *p.lie.lock().unwrap() = lie;
        let b = Browser::new();
        let login = b
            .get(&srv.authorize_url(&srv.authorize_query("mcp:tools")))
            .await;
        let action = srv.url(&login.form_action("Continue with Forged"));
        let (csrf, aq) = (login.hidden("csrf_token"), login.hidden("authorize_query"));
        let form = [
            ("csrf_token", csrf.as_str()),
            ("authorize_query", aq.as_str()),
        ];
        let go = b.post(&action, &[form[0], form[1], ("approve", "1")]).await;
        let at = go.location.unwrap();
        assert!(query_param(&at, "nonce").is_some());
        let back = b.get(&at).await.location.unwrap();
        let page = b.get(&back).await;
        if lie == Lie::None {
            assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
            continue;
        }
        assert_eq!(
            page.status,
            StatusCode::BAD_REQUEST,
            "{lie:?}: {}",
            page.body
        );
        assert!(
            page.body.contains("Sign-in not verified"),
            "{lie:?}: {}",
            page.body
        );
        assert!(page.body.contains(says), "{lie:?}: {}", page.body);
    }
    // Only the honest sign-in made an account.
    assert_eq!(srv.store().list_upstream_links().await.unwrap().len(), 1);
}
