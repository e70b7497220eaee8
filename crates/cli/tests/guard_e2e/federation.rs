//! Federated login through `mcp-oauth serve --dev --demo` with an `[[upstream]]` block at a
//! live node-oidc-provider: an MCP client's `/authorize`, our consent, the provider's login,
//! back, our code, our token, and the demo's `upstream_account` tool showing the account; then
//! `users list` says where the account comes from.

use crate::idp::{Browser, CLIENT_ID, CLIENT_SECRET, Idp};
use crate::support::*;
use reqwest::StatusCode;
use rmcp::model::CallToolRequestParams;
use serde_json::Value;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn an_mcp_client_signs_in_through_the_upstream_and_calls_the_demo() {
    // `serve` takes its address as a flag and the provider must know our callback first: a
    // port the system gave, freed just before `serve` binds it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let Some(idp) = Idp::start(&[format!("{base}/upstream/corp/callback")]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[[upstream]]\nid = \"corp\"\npreset = \"oidc\"\nname = \"Corp SSO\"\nissuer = \"{}\"\n\
             client_id = \"{CLIENT_ID}\"\nclient_secret_env = \"CORP_SECRET\"\ninsecure_http = true\n",
            idp.issuer
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let (data, config) = (data.to_str().unwrap(), config.to_str().unwrap());
    let addr = format!("127.0.0.1:{port}");
    let _serve = spawn_with_env(
        &[
            "serve",
            "--dev",
            "--demo",
            "--addr",
            &addr,
            "--data-dir",
            data,
            "--config",
            config,
        ],
        &[("CORP_SECRET", CLIENT_SECRET)],
        "mcp-oauth listening on",
    );
    let mcp = format!("{base}/mcp");
    let redirect = format!("{base}/dev/callback");
    let q = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", "demo-client"),
        ("redirect_uri", redirect.as_str()),
        ("scope", "mcp:tools"),
        ("state", "s1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("resource", mcp.as_str()),
    ])
    .unwrap();
    let b = Browser::new();
    let login = b.get(&format!("{base}/authorize?{q}")).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let start = format!("{base}{}", login.form_action("Continue with Corp SSO"));
    let form = [
        ("csrf_token", login.hidden("csrf_token")),
        ("authorize_query", login.hidden("authorize_query")),
    ];
    let consent = b
        .post(&start, &[(form[0].0, &form[0].1), (form[1].0, &form[1].1)])
        .await;
    assert!(consent.body.contains("Demo client"), "{}", consent.body);
    let go = b
        .post(
            &start,
            &[
                (form[0].0, &form[0].1),
                (form[1].0, &form[1].1),
                ("approve", "1"),
            ],
        )
        .await;
    let back = b.sign_in_upstream(&idp, &go.location.unwrap(), "ann").await;
    let done = b.get(&back).await;
    let code = param(&done.location.unwrap(), "code").expect("a code for the MCP client");
    let tokens: Value = reqwest::Client::new()
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "demo-client"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("code_verifier", VERIFIER),
            ("resource", &mcp),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tokens["access_token"].as_str().expect("our access token");

    let client = crate::demo::connect(&mcp, token).await;
    let tools = client.list_tools(None).await.unwrap();
    assert!(tools.tools.iter().any(|t| t.name == "upstream_account"));
    let r = client
        .call_tool(CallToolRequestParams::new("upstream_account"))
        .await
        .unwrap();
    let text = serde_json::to_value(&r).unwrap()["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    let shown: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(shown["upstream"], "corp");
    assert_eq!(shown["provider"], "Corp SSO");
    assert_eq!(shown["subject"], "ann");
    assert_eq!(shown["email"], "ann@corp.example");
    assert_eq!(shown["upstream_token"]["available"], true);
    assert!(!text.contains(tokens["access_token"].as_str().unwrap()));
    client.cancel().await.unwrap();

    let users = admin(&["users", "list", "--data-dir", data]);
    let ann = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "corp-ann")
        .expect("the upstream account's user");
    assert_eq!(ann["source"], serde_json::json!(["corp:ann"]));
    let demo = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "demo")
        .unwrap();
    assert_eq!(demo["source"], serde_json::json!(["local"]));
}
