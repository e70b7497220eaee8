//! `guard --profile …` against stand-in providers: each publishes metadata and keys at that
//! provider's paths and signs access tokens shaped as the provider documents them (header `typ`
//! and `kid`, claims, scope and audience shapes). Each profile: accepted when right (the upstream
//! sees the scopes read from the provider's claims), refused with the MCP challenge when the
//! audience, issuer, tenant, `token_use`, expiry or scope is wrong.

use crate::standin::*;
use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const RESOURCE: &str = "https://mcp.example.com/mcp";
const PRM: &str = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";

/// A guard in front of the echo upstream; the policy needs `tools` for everything and `admin`
/// too for `reset_counter`.
struct Guarded {
    proc: Proc,
    mcp: String,
    _upstream: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

async fn guard(tools: &str, admin: &str, args: &[&str]) -> Guarded {
    let (upstream, task) = echo_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!("default = \"{tools}\"\n[tools]\nreset_counter = \"{tools} {admin}\"\n"),
    )
    .unwrap();
    let mut full = vec![
        "guard",
        "--upstream",
        &upstream,
        "--resource",
        RESOURCE,
        "--scopes-file",
        policy.to_str().unwrap(),
        "--addr",
        "127.0.0.1:0",
        "--insecure-http",
    ];
    full.extend_from_slice(args);
    let proc = spawn(&full, "mcp-oauth guard listening on");
    let mcp = format!("{}/mcp", proc.base);
    Guarded {
        proc,
        mcp,
        _upstream: task,
        _dir: dir,
    }
}

impl Guarded {
    /// A `tools/call` of `echo` passes; returns the headers the upstream saw.
    async fn accepts(&self, token: &str) -> Value {
        let r = send(post(
            &self.mcp,
            Some(token),
            &tool_call(1, "echo", json!({})),
        ))
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body["headers"].clone()
    }

    /// Refused with `401 invalid_token`, the challenge naming the metadata; the description
    /// contains `why`.
    async fn refuses(&self, token: &str, why: &str) {
        let r = send(post(
            &self.mcp,
            Some(token),
            &tool_call(1, "echo", json!({})),
        ))
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{why}: {}", r.text);
        let c = r.challenge();
        assert_eq!(c.error.as_deref(), Some("invalid_token"), "{why}");
        assert_eq!(c.resource_metadata.as_deref(), Some(PRM));
        let d = c.error_description.unwrap_or_default();
        assert!(d.contains(why), "`{d}` should say `{why}`");
    }

    /// `reset_counter` is refused with `403 insufficient_scope` and the step-up scope set.
    async fn needs(&self, token: &str, scope: &str) {
        let r = send(post(
            &self.mcp,
            Some(token),
            &tool_call(2, "reset_counter", json!({})),
        ))
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        let c = r.challenge();
        assert_eq!(c.error.as_deref(), Some("insufficient_scope"));
        assert_eq!(c.resource_metadata.as_deref(), Some(PRM));
        let got = c.scope.unwrap_or_default();
        for s in scope.split(' ') {
            assert!(got.split(' ').any(|g| g == s), "`{got}` should hold `{s}`");
        }
    }

    async fn prm(&self) -> Value {
        let url = format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            self.proc.base
        );
        send(reqwest::Client::new().get(url)).await.body
    }
}

fn with(mut v: Value, k: &str, x: Value) -> Value {
    v[k] = x;
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth0_both_token_profiles() {
    let idp = StandIn::start().await;
    // Auth0: the tenant domain with a trailing slash; metadata at the OpenID path only.
    let issuer = idp.publish(Issuer {
        path: "/",
        metadata_paths: &["/.well-known/openid-configuration"],
        jwks_path: "/.well-known/jwks.json",
        names: None,
        no_jwks_uri: false,
        registration: true,
    });
    // Configured without the slash, as people copy the domain: the profile adds it.
    let g = guard(
        "read:tools",
        "admin:tools",
        &[
            "--profile",
            "auth0",
            "--issuer",
            issuer.trim_end_matches('/'),
        ],
    )
    .await;
    let prm = g.prm().await;
    assert_eq!(prm["authorization_servers"], json!([issuer]));
    assert_eq!(
        prm["scopes_supported"],
        json!(["admin:tools", "read:tools"])
    );
    let t = now();
    // The Auth0 token profile (`access_token_authz`): typ JWT, azp, RBAC permissions.
    let auth0 = json!({
        "iss": issuer, "sub": "auth0|123456",
        "aud": [RESOURCE, format!("{issuer}userinfo")],
        "azp": "my_client_id", "exp": t + 600, "iat": t,
        "scope": "openid profile", "permissions": ["read:tools"],
    });
    let header = json!({"typ": "JWT", "kid": idp.kid});
    let seen = g.accepts(&idp.sign(header.clone(), &auth0)).await;
    assert_eq!(seen["x-mcp-oauth-scope"], "openid profile read:tools");
    assert_eq!(seen["x-mcp-oauth-client-id"], "my_client_id");
    assert_eq!(seen["x-mcp-oauth-issuer"], issuer.as_str());
    g.needs(&idp.sign(header.clone(), &auth0), "read:tools admin:tools")
        .await;
    // The RFC 9068 profile (`rfc9068_profile`): typ at+jwt, client_id, jti.
    let rfc = json!({
        "iss": issuer, "sub": "auth0|123456", "aud": RESOURCE, "client_id": "my_client_id",
        "exp": t + 600, "iat": t, "jti": "73WakrfVbNJBaAmhQtEeDv",
        "scope": "read:tools admin:tools",
    });
    let at = json!({"typ": "at+jwt", "kid": idp.kid});
    let r = send(post(
        &g.mcp,
        Some(&idp.sign(at.clone(), &rfc)),
        &tool_call(3, "reset_counter", json!({})),
    ))
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Refusals.
    let other = with(rfc.clone(), "aud", json!("https://other.example.com/api"));
    g.refuses(&idp.sign(at.clone(), &other), "audience").await;
    let no_slash = with(rfc.clone(), "iss", json!(issuer.trim_end_matches('/')));
    g.refuses(&idp.sign(at.clone(), &no_slash), "trusted issuer")
        .await;
    let old = with(rfc.clone(), "exp", json!(t - 3600));
    g.refuses(&idp.sign(at.clone(), &old), "expired").await;
    let id_typ = json!({"typ": "id+jwt", "kid": idp.kid});
    g.refuses(&idp.sign(id_typ, &rfc), "typ").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_custom_authorization_server() {
    let idp = StandIn::start().await;
    let issuer = idp.publish(Issuer {
        path: "/oauth2/default",
        metadata_paths: &[
            "/oauth2/default/.well-known/oauth-authorization-server",
            "/oauth2/default/.well-known/openid-configuration",
        ],
        jwks_path: "/oauth2/default/v1/keys",
        names: None,
        no_jwks_uri: false,
        registration: true,
    });
    // The default server's audience is `api://default` unless changed: an alias.
    let g = guard(
        "mcp:tools",
        "mcp:admin",
        &[
            "--profile",
            "okta",
            "--issuer",
            &issuer,
            "--audience",
            "api://default",
        ],
    )
    .await;
    let t = now();
    let claims = json!({
        "ver": 1, "jti": "AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE", "iss": issuer,
        "aud": "api://default", "iat": t, "exp": t + 3600, "cid": "0oa1a2b3c4d5e6f7g8h9",
        "uid": "00uid4BxXw6I6TV4m0g3", "scp": ["mcp:tools", "openid"], "auth_time": t,
        "sub": "alice@example.com",
    });
    // Okta's access token header: kid and alg, no typ.
    let header = json!({"kid": idp.kid});
    let seen = g.accepts(&idp.sign(header.clone(), &claims)).await;
    assert_eq!(seen["x-mcp-oauth-scope"], "mcp:tools openid");
    assert_eq!(seen["x-mcp-oauth-client-id"], "0oa1a2b3c4d5e6f7g8h9");
    g.needs(&idp.sign(header.clone(), &claims), "mcp:tools mcp:admin")
        .await;
    let org = with(claims.clone(), "aud", json!(idp.base));
    g.refuses(&idp.sign(header.clone(), &org), "audience").await;
    let org_iss = with(claims.clone(), "iss", json!(idp.base));
    g.refuses(&idp.sign(header.clone(), &org_iss), "trusted issuer")
        .await;
    let old = with(claims.clone(), "exp", json!(t - 3600));
    g.refuses(&idp.sign(header.clone(), &old), "expired").await;
    let unknown_key = json!({"kid": "rotated-away"});
    g.refuses(&idp.sign(unknown_key, &claims), "unknown key")
        .await;
}

const T1: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const T2: &str = "0f0f0f0f-1111-2222-3333-444455556666";
const T3: &str = "9e9e9e9e-aaaa-bbbb-cccc-ddddeeeeffff";
const API_CLIENT_ID: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_tenants_and_token_versions() {
    let idp = StandIn::start().await;
    for t in [T1, T2, T3] {
        let path = format!("/{t}/v2.0");
        let meta = format!("{path}/.well-known/openid-configuration");
        let keys = format!("/{t}/discovery/v2.0/keys");
        idp.publish(Issuer {
            path: &path,
            metadata_paths: &[&meta],
            jwks_path: &keys,
            names: None,
            no_jwks_uri: false,
            registration: false,
        });
    }
    // A multi-tenant app: the authority's `organizations` issuer and the tenant allow-list;
    // v2.0 tokens name the API's client id, v1.0 ones its Application ID URI.
    let organizations = format!("{}/organizations/v2.0", idp.base);
    let (proc, log) = guard_noting(&[
        "--upstream",
        &echo_upstream().await.0,
        "--resource",
        RESOURCE,
        "--addr",
        "127.0.0.1:0",
        "--insecure-http",
        "--profile",
        "entra",
        "--issuer",
        &organizations,
        "--tenant",
        T1,
        "--tenant",
        T2,
        "--audience",
        API_CLIENT_ID,
        "--audience",
        "api://mcp-guard",
    ]);
    // Entra ID offers no dynamic registration: the guard says so at start-up.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !log.lock().unwrap().contains("registered there beforehand")
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        log.lock()
            .unwrap()
            .contains("MCP clients need a client id registered there"),
        "{}",
        log.lock().unwrap()
    );
    let g = Guarded {
        mcp: format!("{}/mcp", proc.base),
        proc,
        _upstream: tokio::spawn(async {}),
        _dir: tempfile::tempdir().unwrap(),
    };
    let prm = g.prm().await;
    assert_eq!(
        prm["authorization_servers"],
        json!([
            format!("{}/{T1}/v2.0", idp.base),
            format!("{}/{T2}/v2.0", idp.base)
        ])
    );
    let t = now();
    let header = json!({"typ": "JWT", "kid": idp.kid});
    let v2 = |tenant: &str| {
        json!({
            "aud": API_CLIENT_ID, "iss": format!("{}/{tenant}/v2.0", idp.base),
            "iat": t, "nbf": t, "exp": t + 3600, "azp": "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
            "azpacr": "0", "name": "Abe Lincoln", "oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474",
            "preferred_username": "abeli@microsoft.com", "scp": "Tools.Use", "sub": "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
            "tid": tenant, "uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "2.0",
        })
    };
    let seen = g.accepts(&idp.sign(header.clone(), &v2(T1))).await;
    assert_eq!(seen["x-mcp-oauth-scope"], "Tools.Use");
    assert_eq!(
        seen["x-mcp-oauth-client-id"],
        "c44b4083-3bb0-49c1-b47d-974e53cbdf3c"
    );
    g.accepts(&idp.sign(header.clone(), &v2(T2))).await;
    // An application permission (client credentials): `roles`, no `scp`.
    let mut app = v2(T1);
    app.as_object_mut().unwrap().remove("scp");
    app["roles"] = json!(["Tools.Use", "Tools.Admin"]);
    let seen = g.accepts(&idp.sign(header.clone(), &app)).await;
    assert_eq!(seen["x-mcp-oauth-scope"], "Tools.Admin Tools.Use");
    // A v1.0 token: sts.windows.net issuer, the Application ID URI, `appid`.
    let v1 = json!({
        "aud": "api://mcp-guard", "iss": format!("https://sts.windows.net/{T1}/"),
        "iat": t, "nbf": t, "exp": t + 3600, "appid": "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
        "scp": "Tools.Use", "sub": "x", "tid": T1, "ver": "1.0",
    });
    let seen = g.accepts(&idp.sign(header.clone(), &v1)).await;
    assert_eq!(
        seen["x-mcp-oauth-issuer"],
        format!("https://sts.windows.net/{T1}/")
    );
    // Refusals: a tenant off the list, a `tid` that is not the issuer's, another API, an ID
    // token (no scp, no roles), expiry.
    g.refuses(&idp.sign(header.clone(), &v2(T3)), "trusted issuer")
        .await;
    let v1_t3 = with(
        v1.clone(),
        "iss",
        json!(format!("https://sts.windows.net/{T3}/")),
    );
    g.refuses(&idp.sign(header.clone(), &v1_t3), "trusted issuer")
        .await;
    let crossed = with(v2(T1), "tid", json!(T2));
    g.refuses(&idp.sign(header.clone(), &crossed), "`tid`")
        .await;
    let graph = with(v2(T1), "aud", json!("00000003-0000-0000-c000-000000000000"));
    g.refuses(&idp.sign(header.clone(), &graph), "audience")
        .await;
    let mut id_token = v2(T1);
    id_token.as_object_mut().unwrap().remove("scp");
    g.refuses(&idp.sign(header.clone(), &id_token), "scp or roles")
        .await;
    let old = with(v2(T1), "exp", json!(t - 3600));
    g.refuses(&idp.sign(header.clone(), &old), "expired").await;
    let at = json!({"typ": "at+jwt", "kid": idp.kid});
    g.refuses(&idp.sign(at, &v2(T1)), "typ").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cognito_client_id_and_token_use() {
    let idp = StandIn::start().await;
    let issuer = idp.publish(Issuer {
        path: "/eu-west-1_AbC123dEf",
        metadata_paths: &["/eu-west-1_AbC123dEf/.well-known/openid-configuration"],
        jwks_path: "/eu-west-1_AbC123dEf/.well-known/jwks.json",
        names: None,
        no_jwks_uri: false,
        registration: false,
    });
    let app_client = "1example23456789";
    let g = guard(
        "mcp/tools",
        "mcp/admin",
        &[
            "--profile",
            "cognito",
            "--issuer",
            &issuer,
            "--audience",
            app_client,
        ],
    )
    .await;
    let t = now();
    // AWS's sample access token payload, with this pool and a custom scope.
    let claims = json!({
        "sub": "aaaaaaaa-bbbb-cccc-dddd-example", "cognito:groups": ["admin"],
        "iss": issuer, "version": 2, "client_id": app_client,
        "origin_jti": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "event_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "token_use": "access",
        "scope": "mcp/tools openid", "auth_time": t, "exp": t + 3600, "iat": t,
        "jti": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "username": "my-test-user",
    });
    let header = json!({"kid": idp.kid});
    let seen = g.accepts(&idp.sign(header.clone(), &claims)).await;
    assert_eq!(seen["x-mcp-oauth-scope"], "mcp/tools openid");
    assert_eq!(seen["x-mcp-oauth-client-id"], app_client);
    g.needs(&idp.sign(header.clone(), &claims), "mcp/tools mcp/admin")
        .await;
    let id = with(claims.clone(), "token_use", json!("id"));
    g.refuses(&idp.sign(header.clone(), &id), "`token_use`")
        .await;
    // An ID token as Cognito issues it: `aud` is the client, no `client_id`.
    let mut id_token = with(claims.clone(), "token_use", json!("id"));
    id_token.as_object_mut().unwrap().remove("client_id");
    id_token["aud"] = json!(app_client);
    g.refuses(&idp.sign(header.clone(), &id_token), "no audience")
        .await;
    let other_app = with(claims.clone(), "client_id", json!("9other000app"));
    g.refuses(&idp.sign(header.clone(), &other_app), "audience")
        .await;
    let other_pool = with(
        claims.clone(),
        "iss",
        json!(format!("{}/eu-west-1_Other", idp.base)),
    );
    g.refuses(&idp.sign(header.clone(), &other_pool), "trusted issuer")
        .await;
    let old = with(claims.clone(), "exp", json!(t - 3600));
    g.refuses(&idp.sign(header.clone(), &old), "expired").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keycloak_realm_with_audience_mapper() {
    let idp = StandIn::start().await;
    let issuer = idp.publish(Issuer {
        path: "/realms/mcp",
        metadata_paths: &["/realms/mcp/.well-known/openid-configuration"],
        jwks_path: "/realms/mcp/protocol/openid-connect/certs",
        names: None,
        no_jwks_uri: false,
        registration: true,
    });
    let g = guard(
        "mcp:tools",
        "mcp:admin",
        &[
            "--profile",
            "keycloak",
            "--issuer",
            &issuer,
            "--audience",
            "mcp-guard",
        ],
    )
    .await;
    let t = now();
    let claims = json!({
        "exp": t + 300, "iat": t, "jti": "onrtac:8b1f0a5c", "iss": issuer,
        "aud": ["mcp-guard", "account"], "sub": "f:1b2c:alice", "typ": "Bearer",
        "azp": "mcp-client", "sid": "3c0c", "acr": "1", "scope": "profile email mcp:tools",
        "email_verified": true, "preferred_username": "alice",
        "realm_access": {"roles": ["default-roles-mcp"]},
    });
    let header = json!({"typ": "JWT", "kid": idp.kid});
    let seen = g.accepts(&idp.sign(header.clone(), &claims)).await;
    assert_eq!(seen["x-mcp-oauth-client-id"], "mcp-client");
    assert_eq!(seen["x-mcp-oauth-scope"], "email mcp:tools profile");
    g.needs(&idp.sign(header.clone(), &claims), "mcp:tools mcp:admin")
        .await;
    // Keycloak's default audience only.
    let account = with(claims.clone(), "aud", json!("account"));
    g.refuses(&idp.sign(header.clone(), &account), "audience")
        .await;
    // An ID token of the same realm (claim typ ID).
    let id = with(claims.clone(), "typ", json!("ID"));
    g.refuses(&idp.sign(header.clone(), &id), "`typ`").await;
    let other_realm = with(
        claims.clone(),
        "iss",
        json!(format!("{}/realms/master", idp.base)),
    );
    g.refuses(&idp.sign(header.clone(), &other_realm), "trusted issuer")
        .await;
    let old = with(claims.clone(), "exp", json!(t - 3600));
    g.refuses(&idp.sign(header.clone(), &old), "expired").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generic_profile_from_the_config_file() {
    let idp = StandIn::start().await;
    let issuer = idp.publish(Issuer {
        path: "/tenant/a",
        metadata_paths: &["/.well-known/oauth-authorization-server/tenant/a"],
        jwks_path: "/keys",
        names: None,
        no_jwks_uri: false,
        registration: true,
    });
    let (upstream, _task) = echo_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("guard.toml");
    // Everything in the file; the flag below wins over its `addr`.
    std::fs::write(
        &config,
        format!(
            "[serve]\nignored = true\n\n[guard]\nupstream = \"{upstream}\"\nresource = \"{RESOURCE}\"\n\
             issuer = \"{issuer}\"\ninsecure_http = true\naddr = \"127.0.0.1:1\"\n\
             profile = \"generic\"\naudience = [\"urn:mcp:guard\"]\n\
             scope_claims = [\"perms\"]\naudience_claims = [\"aud\"]\ntyp = [\"JWT\"]\n\
             required_claims = {{ token_use = \"access\" }}\n"
        ),
    )
    .unwrap();
    let proc = spawn(
        &[
            "guard",
            "--config",
            config.to_str().unwrap(),
            "--addr",
            "127.0.0.1:0",
        ],
        "mcp-oauth guard listening on",
    );
    let g = Guarded {
        mcp: format!("{}/mcp", proc.base),
        proc,
        _upstream: tokio::spawn(async {}),
        _dir: dir,
    };
    let t = now();
    let claims = json!({
        "iss": issuer, "aud": ["urn:mcp:guard"], "sub": "svc", "exp": t + 60, "iat": t,
        "token_use": "access", "perms": ["tools.read", "tools.write"], "scope": "ignored",
    });
    let header = json!({"typ": "JWT", "kid": idp.kid});
    let seen = g.accepts(&idp.sign(header.clone(), &claims)).await;
    assert_eq!(seen["x-mcp-oauth-scope"], "tools.read tools.write");
    let mut no_use = claims.clone();
    no_use.as_object_mut().unwrap().remove("token_use");
    g.refuses(&idp.sign(header.clone(), &no_use), "`token_use`")
        .await;
    g.refuses(
        &idp.sign(json!({"typ": "at+jwt", "kid": idp.kid}), &claims),
        "typ",
    )
    .await;
    let resource = with(claims.clone(), "aud", json!(RESOURCE));
    g.accepts(&idp.sign(header.clone(), &resource)).await;
    let other = with(claims.clone(), "aud", json!("urn:mcp:other"));
    g.refuses(&idp.sign(header, &other), "audience").await;
}
