//! `guard` start-up checks: a configuration that cannot work stops the start, saying why and
//! what to change, before the guard listens.

use crate::standin::*;

const RESOURCE: &str = "https://mcp.example.com/mcp";
const UPSTREAM: &str = "http://127.0.0.1:9/mcp";

fn refuses(extra: &[&str]) -> String {
    let mut args = vec![
        "--upstream",
        UPSTREAM,
        "--resource",
        RESOURCE,
        "--addr",
        "127.0.0.1:0",
        "--insecure-http",
    ];
    args.extend_from_slice(extra);
    guard_refuses(&args)
}

fn contains_all(text: &str, parts: &[&str]) {
    for p in parts {
        assert!(text.contains(p), "`{p}` missing from: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_issuer() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let issuer = format!("http://127.0.0.1:{port}");
    let err = refuses(&["--issuer", &issuer]);
    contains_all(&err, &["is unreachable", "Check the --issuer URL"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_without_jwks_uri() {
    let idp = StandIn::start().await;
    let issuer = idp.publish(Issuer {
        path: "/realms/mcp",
        metadata_paths: &["/realms/mcp/.well-known/openid-configuration"],
        jwks_path: "/realms/mcp/protocol/openid-connect/certs",
        names: None,
        no_jwks_uri: true,
        registration: true,
    });
    let args = [
        "--profile",
        "keycloak",
        "--audience",
        "mcp",
        "--issuer",
        &issuer,
    ];
    let err = refuses(&args);
    contains_all(&err, &["has no jwks_uri", "--jwks-uri"]);
    // Given, it starts.
    let keys = format!("{issuer}/protocol/openid-connect/certs");
    let (_guard, _) = guard_noting(&[
        "--upstream",
        UPSTREAM,
        "--resource",
        RESOURCE,
        "--addr",
        "127.0.0.1:0",
        "--insecure-http",
        "--profile",
        "keycloak",
        "--audience",
        "mcp",
        "--issuer",
        &issuer,
        "--jwks-uri",
        &keys,
    ]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_naming_another_issuer() {
    let idp = StandIn::start().await;
    let issuer = idp.publish(Issuer {
        path: "/oauth2/default",
        metadata_paths: &["/oauth2/default/.well-known/openid-configuration"],
        jwks_path: "/oauth2/default/v1/keys",
        names: Some("https://acme.okta.com/oauth2/default"),
        no_jwks_uri: false,
        registration: false,
    });
    let err = refuses(&["--profile", "okta", "--issuer", &issuer]);
    contains_all(
        &err,
        &[
            "names another issuer",
            "`https://acme.okta.com/oauth2/default`",
            "--issuer",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuer_without_metadata() {
    let idp = StandIn::start().await;
    let err = refuses(&["--issuer", &format!("{}/nothing", idp.base)]);
    contains_all(&err, &["publishes no metadata", "HTTP status 404"]);
}

#[test]
fn profiles_that_cannot_check_the_audience() {
    let err = refuses(&[
        "--profile",
        "keycloak",
        "--issuer",
        "http://127.0.0.1:9/realms/mcp",
    ]);
    contains_all(
        &err,
        &[
            "audience cannot be checked",
            "Audience mapper",
            "--audience",
        ],
    );
    let err = refuses(&[
        "--profile",
        "cognito",
        "--issuer",
        "http://127.0.0.1:9/eu-west-1_AbC123",
    ]);
    contains_all(
        &err,
        &["audience cannot be checked", "app client ids", "--audience"],
    );
}

#[test]
fn issuers_of_the_wrong_form() {
    let err = refuses(&["--profile", "okta", "--issuer", "http://127.0.0.1:9"]);
    contains_all(&err, &["org authorization server", "/oauth2/default"]);
    let err = refuses(&[
        "--profile",
        "entra",
        "--issuer",
        "http://127.0.0.1:9/common/v2.0",
    ]);
    contains_all(&err, &["not a tenant id", "--tenant"]);
    let err = refuses(&[
        "--profile",
        "entra",
        "--issuer",
        "http://127.0.0.1:9/common/v2.0",
        "--tenant",
        "contoso.onmicrosoft.com",
    ]);
    contains_all(&err, &["not a tenant id"]);
    let err = refuses(&[
        "--profile",
        "keycloak",
        "--audience",
        "x",
        "--issuer",
        "http://127.0.0.1:9/",
    ]);
    contains_all(&err, &["/realms/REALM"]);
    let err = refuses(&["--profile", "ping", "--issuer", "http://127.0.0.1:9/"]);
    contains_all(&err, &["unknown profile `ping`"]);
    let err = refuses(&["--tenant", "x", "--issuer", "http://127.0.0.1:9/"]);
    contains_all(&err, &["--tenant is for --profile entra"]);
}

#[test]
fn settings_that_contradict() {
    let err = refuses(&[
        "--issuer",
        "http://127.0.0.1:9/",
        "--client-secret-env",
        "X",
    ]);
    contains_all(&err, &["without --client-id"]);
    let err = refuses(&[
        "--issuer",
        "http://127.0.0.1:9/",
        "--client-secret-env",
        "X",
        "--client-secret-file",
        "/dev/null",
    ]);
    contains_all(&err, &["not both"]);
    let err = guard_refuses(&["--resource", RESOURCE, "--issuer", "http://127.0.0.1:9/"]);
    contains_all(&err, &["--upstream is required", "`upstream` in [guard]"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_that_cannot_be_loaded() {
    let idp = StandIn::start().await;
    let issuer = idp.publish(Issuer {
        path: "/realms/mcp",
        metadata_paths: &["/realms/mcp/.well-known/openid-configuration"],
        jwks_path: "/realms/mcp/protocol/openid-connect/certs",
        names: None,
        no_jwks_uri: false,
        registration: true,
    });
    let missing = format!("{}/no-keys-here", idp.base);
    let err = refuses(&[
        "--profile",
        "keycloak",
        "--audience",
        "mcp",
        "--issuer",
        &issuer,
        "--jwks-uri",
        &missing,
    ]);
    contains_all(&err, &["signing keys", "cannot be loaded", "--jwks-uri"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_without_an_endpoint() {
    let idp = StandIn::start().await;
    let issuer = idp.publish(Issuer {
        path: "/realms/mcp",
        metadata_paths: &["/realms/mcp/.well-known/openid-configuration"],
        jwks_path: "/realms/mcp/protocol/openid-connect/certs",
        names: None,
        no_jwks_uri: false,
        registration: true,
    });
    let base = [
        "--profile",
        "keycloak",
        "--audience",
        "mcp",
        "--issuer",
        &issuer,
    ];
    let mut args = base.to_vec();
    args.extend(["--client-id", "guard", "--client-secret-file", "/dev/null"]);
    let err = refuses(&args);
    contains_all(
        &err,
        &["has no introspection_endpoint", "--introspection-endpoint"],
    );
    let mut args = base.to_vec();
    args.extend(["--client-id", "guard"]);
    let err = refuses(&args);
    contains_all(
        &err,
        &["--client-secret-env VAR or --client-secret-file PATH"],
    );
    let mut args = base.to_vec();
    let endpoint = format!("{}/introspect", idp.base);
    args.extend([
        "--introspection-endpoint",
        &endpoint,
        "--client-id",
        "guard",
    ]);
    args.extend(["--client-secret-file", "/dev/null"]);
    let err = refuses(&args);
    contains_all(&err, &["secret is empty"]);
}
