//! The one place where a refusal becomes an HTTP response: status, `WWW-Authenticate` challenge
//! (built with [`mcp_oauth_core::challenge::BearerChallenge`]) and a small JSON body.
//!
//! | Case | Status | Challenge |
//! |---|---|---|
//! | no token | 401 | `Bearer resource_metadata="…"[, scope="…"]`, no `error` (RFC 6750 §3.1) |
//! | bad, expired, wrong-audience token | 401 | `error="invalid_token"` |
//! | malformed or repeated header, token in query or body | 400 | `error="invalid_request"` |
//! | DPoP: bound token as `Bearer`, unbound as `DPoP`, bad proof ([`crate::dpop`]) | 401 | `Bearer resource_metadata="…", DPoP algs="…", error="invalid_token"` or `"invalid_dpop_proof"` |
//! | token lacks scopes | 403 | `error="insufficient_scope", scope="…"` |
//! | issuer unreachable | 503 | none; `Retry-After` |
//! | body too large | 413 | none; JSON-RPC error body without `id` |
//! | body encoded, not JSON-typed, not UTF-8 ([`crate::content`]) | 415 | none; `invalid_request` JSON |
//! | body not JSON, a byte order mark, ambiguous; a body on `GET`/`DELETE` | 400 | none; `invalid_request` JSON |
//! | a body on `PUT`, `PATCH`, ... | 405 | none; `Allow: GET, POST, DELETE` |
//! | CORS preflight ([`crate::cors`]) | 204, or 403 for an origin not allowed | none |
//!
//! Every refusal carries `Access-Control-Expose-Headers: WWW-Authenticate`: a browser-based MCP
//! client can only read the challenge (and so find the metadata) when the header is exposed.
//! For an allowed origin the layer adds `Access-Control-Allow-Origin` and the full exposed list
//! ([`crate::cors`]).

use crate::error::AuthError;
use bytes::Bytes;
use http::header::{
    ACCESS_CONTROL_EXPOSE_HEADERS, ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderValue, RETRY_AFTER,
    WWW_AUTHENTICATE,
};
use http::{Response, StatusCode};
use http_body_util::Full;
use mcp_oauth_core::ErrorCode;
use mcp_oauth_core::challenge::BearerChallenge;
use serde_json::{Map, Value, json};

/// Seconds a client should wait after a `503` before retrying.
pub const RETRY_AFTER_SECONDS: u32 = 5;

/// The JSON-RPC "Invalid Request" code, used for refusals that are not OAuth challenges.
pub const JSONRPC_INVALID_REQUEST: i64 = -32600;

/// The response for a refusal. `resource_metadata` is the PRM URL put in every challenge.
pub fn refusal(err: &AuthError, resource_metadata: &str) -> Response<Full<Bytes>> {
    let challenge = |error: Option<(ErrorCode, &str)>, scope: Option<String>| {
        let mut c = BearerChallenge {
            resource_metadata: Some(resource_metadata.to_owned()),
            scope,
            ..Default::default()
        };
        if let Some((code, description)) = error {
            c = c.with_error(code, description);
        }
        c
    };
    let non_empty = |s: &mcp_oauth_core::ScopeSet| (!s.is_empty()).then(|| s.to_string());
    match err {
        AuthError::MissingToken { needed } => oauth(
            StatusCode::UNAUTHORIZED,
            challenge(None, non_empty(needed)),
            "an access token is required",
        ),
        AuthError::InvalidRequest(description) => oauth(
            StatusCode::BAD_REQUEST,
            challenge(Some((ErrorCode::InvalidRequest, description)), None),
            description,
        ),
        AuthError::InvalidToken {
            description,
            needed,
        } => oauth(
            StatusCode::UNAUTHORIZED,
            challenge(
                Some((ErrorCode::InvalidToken, description)),
                non_empty(needed),
            ),
            description,
        ),
        AuthError::Dpop(r) => {
            let dpop = crate::dpop::challenge(r, resource_metadata);
            let mut resp = oauth(
                StatusCode::UNAUTHORIZED,
                challenge(None, None),
                &r.description,
            );
            // The DPoP challenge carries the error; the Bearer one still points to the metadata.
            let both = format!("{}, {dpop}", challenge(None, None));
            if let Ok(v) = HeaderValue::from_str(&both) {
                resp.headers_mut().insert(WWW_AUTHENTICATE, v);
            }
            if let Some(n) = r
                .nonce
                .as_deref()
                .and_then(|n| HeaderValue::from_str(n).ok())
            {
                resp.headers_mut()
                    .insert(mcp_oauth_core::dpop::NONCE_HEADER, n);
                resp.headers_mut().insert(
                    ACCESS_CONTROL_EXPOSE_HEADERS,
                    HeaderValue::from_static("WWW-Authenticate, DPoP-Nonce"),
                );
            }
            resp
        }
        AuthError::InsufficientScope { scope } => oauth(
            StatusCode::FORBIDDEN,
            challenge(
                Some((
                    ErrorCode::InsufficientScope,
                    "the access token does not grant the scope this request needs",
                )),
                Some(scope.to_string()),
            ),
            "the access token does not grant the scope this request needs",
        ),
        AuthError::Unavailable => {
            let body = json!({
                "error": ErrorCode::TemporarilyUnavailable.as_str(),
                "error_description": "the authorization server could not be reached to verify the access token",
            });
            let mut resp = json_response(StatusCode::SERVICE_UNAVAILABLE, &body);
            resp.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            resp
        }
        AuthError::BodyTooLarge { limit } => jsonrpc_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request body larger than {limit} bytes"),
        ),
        AuthError::UnsupportedMediaType(description) => {
            body_refusal(StatusCode::UNSUPPORTED_MEDIA_TYPE, description)
        }
        AuthError::MalformedBody(description) => body_refusal(StatusCode::BAD_REQUEST, description),
        AuthError::MethodNotAllowed(description) => {
            let mut resp = body_refusal(StatusCode::METHOD_NOT_ALLOWED, description);
            resp.headers_mut().insert(
                ALLOW,
                HeaderValue::from_static(crate::content::ALLOWED_METHODS),
            );
            resp
        }
        AuthError::BodyUnreadable => oauth(
            StatusCode::BAD_REQUEST,
            challenge(
                Some((
                    ErrorCode::InvalidRequest,
                    "the request body could not be read",
                )),
                None,
            ),
            "the request body could not be read",
        ),
    }
}

/// A `{"jsonrpc":"2.0","error":{"code":-32600,"message":…}}` response without `id`, as the MCP
/// transport allows for refusals that happen before a message is read (bad `Origin`, too large).
pub fn jsonrpc_error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let body = json!({
        "jsonrpc": "2.0",
        "error": { "code": JSONRPC_INVALID_REQUEST, "message": message },
    });
    json_response(status, &body)
}

/// A refusal of a body the policy cannot read with certainty: `invalid_request` with a
/// description, and no challenge (nothing is wrong with the token).
fn body_refusal(status: StatusCode, description: &str) -> Response<Full<Bytes>> {
    let body = json!({
        "error": ErrorCode::InvalidRequest.as_str(),
        "error_description": description,
    });
    json_response(status, &body)
}

/// An OAuth refusal: the challenge in `WWW-Authenticate` and the same facts as JSON.
fn oauth(
    status: StatusCode,
    challenge: BearerChallenge,
    description: &str,
) -> Response<Full<Bytes>> {
    let mut body = Map::new();
    if let Some(e) = &challenge.error {
        body.insert("error".into(), Value::String(e.clone()));
    }
    body.insert(
        "error_description".into(),
        Value::String(description.to_owned()),
    );
    if let Some(s) = &challenge.scope {
        body.insert("scope".into(), Value::String(s.clone()));
    }
    if let Some(rm) = &challenge.resource_metadata {
        body.insert("resource_metadata".into(), Value::String(rm.clone()));
    }
    let mut resp = json_response(status, &Value::Object(body));
    // BearerChallenge drops control characters, so the value is always a valid header; the
    // fallback only guards against a future change there.
    let value = HeaderValue::from_str(&challenge.to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer"));
    resp.headers_mut().insert(WWW_AUTHENTICATE, value);
    resp
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = Response::new(Full::new(Bytes::from(bytes)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("WWW-Authenticate"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use mcp_oauth_core::ScopeSet;
    use mcp_oauth_core::challenge::find_bearer;

    const RM: &str = "https://h/.well-known/oauth-protected-resource/mcp";

    fn challenge_of(resp: &Response<Full<Bytes>>) -> BearerChallenge {
        let h = resp
            .headers()
            .get(WWW_AUTHENTICATE)
            .unwrap()
            .to_str()
            .unwrap();
        find_bearer([h]).unwrap()
    }

    async fn body_of(resp: Response<Full<Bytes>>) -> Value {
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn missing_token_has_no_error() {
        let resp = refusal(
            &AuthError::MissingToken {
                needed: ScopeSet::parse("mcp:tools").unwrap(),
            },
            RM,
        );
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            resp.headers()[WWW_AUTHENTICATE],
            r#"Bearer scope="mcp:tools", resource_metadata="https://h/.well-known/oauth-protected-resource/mcp""#
        );
        assert_eq!(
            resp.headers()[ACCESS_CONTROL_EXPOSE_HEADERS],
            "WWW-Authenticate"
        );
        let c = challenge_of(&resp);
        assert_eq!(c.error, None);
        let body = body_of(resp).await;
        assert!(body.get("error").is_none());
        assert_eq!(body["resource_metadata"], RM);
    }

    #[test]
    fn missing_token_without_known_scopes_omits_scope() {
        let resp = refusal(
            &AuthError::MissingToken {
                needed: ScopeSet::new(),
            },
            RM,
        );
        assert_eq!(
            resp.headers()[WWW_AUTHENTICATE],
            format!("Bearer resource_metadata=\"{RM}\"")
        );
    }

    #[tokio::test]
    async fn invalid_token_and_request_and_scope() {
        let resp = refusal(
            &AuthError::InvalidToken {
                description: "the access token expired".into(),
                needed: ScopeSet::new(),
            },
            RM,
        );
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let c = challenge_of(&resp);
        assert_eq!(c.error.as_deref(), Some("invalid_token"));
        assert_eq!(
            c.error_description.as_deref(),
            Some("the access token expired")
        );
        assert_eq!(c.resource_metadata.as_deref(), Some(RM));
        assert_eq!(body_of(resp).await["error"], "invalid_token");

        let resp = refusal(
            &AuthError::InvalidRequest("more than one Authorization header".into()),
            RM,
        );
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            challenge_of(&resp).error.as_deref(),
            Some("invalid_request")
        );

        let resp = refusal(
            &AuthError::InsufficientScope {
                scope: ScopeSet::parse("files:write files:read").unwrap(),
            },
            RM,
        );
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        let c = challenge_of(&resp);
        assert_eq!(c.error.as_deref(), Some("insufficient_scope"));
        assert_eq!(c.scope.as_deref(), Some("files:read files:write"));
        assert_eq!(body_of(resp).await["scope"], "files:read files:write");
    }

    #[tokio::test]
    async fn unavailable_and_too_large() {
        let resp = refusal(&AuthError::Unavailable, RM);
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[RETRY_AFTER], "5");
        assert!(resp.headers().get(WWW_AUTHENTICATE).is_none());
        assert_eq!(body_of(resp).await["error"], "temporarily_unavailable");

        let resp = refusal(&AuthError::BodyTooLarge { limit: 10 }, RM);
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body = body_of(resp).await;
        assert_eq!(body["jsonrpc"], "2.0");
        assert_eq!(body["error"]["code"], -32600);
        assert!(body.get("id").is_none());
    }
}
