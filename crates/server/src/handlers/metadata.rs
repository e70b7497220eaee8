//! Discovery documents: RFC 8414 authorization server metadata and OpenID Connect Discovery,
//! and the JWKS. Each lists exactly what this server implements.

use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use mcp_oauth_core::jose::algorithm_name;
use mcp_oauth_core::metadata::AuthorizationServerMetadata;
use mcp_oauth_core::token::{auth_method, grant_type};

/// Builds the metadata document from the configuration and registered resources.
pub async fn document(state: &AppState) -> AuthorizationServerMetadata {
    let c = state.config();
    let mut scopes: Vec<String> = match state.store().list_resources().await {
        Ok(rs) => rs
            .iter()
            .flat_map(|r| r.scopes.iter().map(|s| s.name.clone()))
            .collect(),
        Err(e) => {
            tracing::warn!(target: "mcp_oauth::metadata", error = %e, "listing resources for scopes_supported failed");
            Vec::new()
        }
    };
    scopes.sort();
    scopes.dedup();
    let secret_methods = vec![
        auth_method::CLIENT_SECRET_BASIC.to_owned(),
        auth_method::CLIENT_SECRET_POST.to_owned(),
    ];
    let mut confidential_methods = secret_methods.clone();
    confidential_methods.push(auth_method::PRIVATE_KEY_JWT.to_owned());
    let mut token_methods = confidential_methods.clone();
    token_methods.push(auth_method::NONE.to_owned());
    let assertion_algs: Vec<String> = crate::client_assertion::ASSERTION_ALGORITHMS
        .iter()
        .map(|a| algorithm_name(*a))
        .collect();
    AuthorizationServerMetadata {
        issuer: c.issuer.clone(),
        authorization_endpoint: Some(c.endpoint("/authorize")),
        token_endpoint: Some(c.endpoint("/token")),
        jwks_uri: Some(c.endpoint("/jwks")),
        registration_endpoint: c.registration_endpoint(),
        scopes_supported: Some(scopes),
        response_types_supported: vec!["code".into()],
        response_modes_supported: Some(vec!["query".into()]),
        grant_types_supported: Some({
            let mut g: Vec<String> = vec![
                grant_type::AUTHORIZATION_CODE.into(),
                grant_type::REFRESH_TOKEN.into(),
                grant_type::CLIENT_CREDENTIALS.into(),
                grant_type::DEVICE_CODE.into(),
            ];
            // Token exchange hands out upstream tokens, so only with an upstream to hand out.
            if !c.upstream.is_empty() {
                g.push(grant_type::TOKEN_EXCHANGE.into());
            }
            g
        }),
        token_endpoint_auth_methods_supported: Some(token_methods.clone()),
        token_endpoint_auth_signing_alg_values_supported: Some(assertion_algs),
        revocation_endpoint: Some(c.endpoint("/revoke")),
        revocation_endpoint_auth_methods_supported: Some(token_methods),
        introspection_endpoint: Some(c.endpoint("/introspect")),
        introspection_endpoint_auth_methods_supported: Some(confidential_methods),
        code_challenge_methods_supported: Some(vec!["S256".into()]),
        authorization_response_iss_parameter_supported: Some(true),
        pushed_authorization_request_endpoint: Some(c.endpoint("/par")),
        device_authorization_endpoint: Some(c.endpoint("/device_authorization")),
        require_pushed_authorization_requests: Some(c.require_pushed_authorization_requests),
        dpop_signing_alg_values_supported: Some(mcp_oauth_core::dpop::algorithm_names()),
        client_id_metadata_document_supported: c.cimd_enabled.then_some(true),
        service_documentation: None,
        subject_types_supported: None,
        id_token_signing_alg_values_supported: None,
        extra: Default::default(),
    }
}

/// A public JSON document. CORS headers come from the router's [`crate::cors`] layer, which
/// also honours a configured origin list.
fn json(body: &impl serde::Serialize) -> Response {
    let mut r = axum::Json(body).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}

/// `GET /.well-known/oauth-authorization-server[/path]`.
pub async fn oauth(State(state): State<AppState>) -> Response {
    json(&document(&state).await)
}

/// `GET /.well-known/openid-configuration` (both the inserted and the appended form).
///
/// OpenID Discovery requires `subject_types_supported` and
/// `id_token_signing_alg_values_supported`; this server issues no ID tokens, so the latter names
/// the access-token algorithm only to satisfy parsers that insist on the field.
pub async fn openid(State(state): State<AppState>) -> Response {
    let mut doc = document(&state).await;
    doc.subject_types_supported = Some(vec!["public".into()]);
    doc.id_token_signing_alg_values_supported =
        Some(vec![algorithm_name(state.config().signing_alg)]);
    json(&doc)
}

/// `GET /jwks`.
pub async fn jwks(State(state): State<AppState>) -> Response {
    let ring = state.keys().ring();
    let mut r = (
        [(header::CONTENT_TYPE, "application/json")],
        ring.jwks_json.clone(),
    )
        .into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}

/// `GET /healthz`: the process is up and answering.
pub async fn healthz() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        "{\"status\":\"ok\"}",
    )
        .into_response()
}

/// How long `/readyz` waits for the database.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// `GET /readyz`: the server can serve requests, i.e. its database answers. `200
/// {"status":"ok"}`, or `503 {"status":"unavailable"}` (the reason goes to the log only), so that
/// a load balancer takes an instance that lost its database out of rotation.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let outcome = tokio::time::timeout(READY_TIMEOUT, state.store().ping()).await;
    let (status, body) = match outcome {
        Ok(Ok(())) => (axum::http::StatusCode::OK, "{\"status\":\"ok\"}"),
        Ok(Err(e)) => {
            tracing::warn!(target: "mcp_oauth::health", error = %e, "readiness check: database unavailable");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "{\"status\":\"unavailable\"}",
            )
        }
        Err(_) => {
            tracing::warn!(target: "mcp_oauth::health", "readiness check: database timed out");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "{\"status\":\"unavailable\"}",
            )
        }
    };
    let mut r = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
