//! Protected Resource Metadata (RFC 9728), served where clients look for it.
//!
//! MCP clients try the path-inserted URL first (`/.well-known/oauth-protected-resource/mcp` for
//! `https://h/mcp`), then the root (`/.well-known/oauth-protected-resource`); the guard's
//! challenges name the path-inserted one. [`PrmService`] answers both with the same document,
//! as a tower service (any body type), and [`PrmService::router`] gives an `axum::Router`
//! (default `axum` feature) to merge into an app.
//!
//! The document is public: it is served with `Access-Control-Allow-Origin: *` so that
//! browser-based clients can read it, and with a short `Cache-Control`.

use crate::error::ConfigError;
use bytes::Bytes;
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN, ALLOW,
    CACHE_CONTROL, CONTENT_TYPE, HeaderValue,
};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use mcp_oauth_core::metadata::ProtectedResourceMetadata;
use mcp_oauth_core::uri::UriParts;
use mcp_oauth_core::wellknown::{OAUTH_PROTECTED_RESOURCE, protected_resource_metadata_url};
use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};

/// `bearer_methods_supported`: tokens only in the `Authorization` header.
pub const BEARER_METHODS: [&str; 1] = ["header"];

/// A PRM document for `resource` trusting `authorization_servers`, with
/// `bearer_methods_supported: ["header"]` and the DPoP proof algorithms the guard accepts
/// (`dpop_signing_alg_values_supported`, RFC 9728 §2). Set `scopes_supported` (from
/// [`crate::ScopePolicy::scopes_supported`]), `resource_name` and `resource_documentation` on
/// the result as needed.
pub fn metadata(
    resource: impl Into<String>,
    authorization_servers: impl IntoIterator<Item = impl Into<String>>,
) -> ProtectedResourceMetadata {
    ProtectedResourceMetadata {
        resource: resource.into(),
        authorization_servers: authorization_servers.into_iter().map(Into::into).collect(),
        bearer_methods_supported: Some(BEARER_METHODS.iter().map(|s| (*s).to_owned()).collect()),
        dpop_signing_alg_values_supported: Some(mcp_oauth_core::dpop::algorithm_names()),
        ..Default::default()
    }
}

/// Serves one PRM document at its path-inserted and root well-known paths.
#[derive(Debug, Clone)]
pub struct PrmService {
    inner: Arc<Served>,
}

#[derive(Debug)]
struct Served {
    document: Bytes,
    paths: Vec<String>,
}

impl PrmService {
    /// Checks the document (a valid `resource`, at least one authorization server) and
    /// prepares it. `bearer_methods_supported` defaults to `["header"]` and
    /// `dpop_signing_alg_values_supported` to the guard's proof algorithms when unset.
    pub fn new(mut metadata: ProtectedResourceMetadata) -> Result<Self, ConfigError> {
        mcp_oauth_core::resource::validate(&metadata.resource)
            .map_err(|_| ConfigError::InvalidResource(metadata.resource.clone()))?;
        if metadata.authorization_servers.is_empty() {
            return Err(ConfigError::NoAuthorizationServer);
        }
        if metadata.bearer_methods_supported.is_none() {
            metadata.bearer_methods_supported =
                Some(BEARER_METHODS.iter().map(|s| (*s).to_owned()).collect());
        }
        if metadata.dpop_signing_alg_values_supported.is_none() {
            metadata.dpop_signing_alg_values_supported =
                Some(mcp_oauth_core::dpop::algorithm_names());
        }
        let inserted = protected_resource_metadata_url(&metadata.resource)
            .and_then(|u| UriParts::split(&u).map(|p| p.path.to_owned()))
            .ok_or_else(|| ConfigError::InvalidResource(metadata.resource.clone()))?;
        let root = format!("/.well-known/{OAUTH_PROTECTED_RESOURCE}");
        let mut paths = vec![inserted];
        if paths[0] != root {
            paths.push(root);
        }
        let document = serde_json::to_vec(&metadata)
            .map_err(|_| ConfigError::InvalidResource(metadata.resource.clone()))?;
        Ok(Self {
            inner: Arc::new(Served {
                document: Bytes::from(document),
                paths,
            }),
        })
    }

    /// The request paths served: the path-inserted one first, then the root one (a single path
    /// when the resource has no path).
    pub fn paths(&self) -> &[String] {
        &self.inner.paths
    }

    /// The response for a request to `method` `path`.
    pub fn respond(&self, method: &Method, path: &str) -> Response<Full<Bytes>> {
        if !self.inner.paths.iter().any(|p| p == path) {
            return plain(StatusCode::NOT_FOUND, Bytes::new());
        }
        let mut resp = match *method {
            Method::GET | Method::HEAD => {
                let body = if *method == Method::HEAD {
                    Bytes::new()
                } else {
                    self.inner.document.clone()
                };
                let mut r = plain(StatusCode::OK, body);
                r.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                r.headers_mut().insert(
                    CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=300"),
                );
                r
            }
            Method::OPTIONS => {
                let mut r = plain(StatusCode::NO_CONTENT, Bytes::new());
                r.headers_mut().insert(
                    ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static("GET, HEAD, OPTIONS"),
                );
                r.headers_mut()
                    .insert(ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("*"));
                r
            }
            _ => {
                let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, Bytes::new());
                r.headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("GET, HEAD, OPTIONS"));
                r
            }
        };
        resp.headers_mut()
            .insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        resp
    }

    /// An `axum::Router` serving the document at [`PrmService::paths`], to merge into an app.
    #[cfg(feature = "axum")]
    pub fn router(&self) -> axum::Router {
        let mut router = axum::Router::new();
        for path in self.paths() {
            router = router.route_service(path, self.clone());
        }
        router
    }
}

fn plain(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r
}

impl<B> tower::Service<Request<B>> for PrmService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        ready(Ok(self.respond(req.method(), req.uri().path())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    fn service(resource: &str) -> PrmService {
        let mut m = metadata(resource, ["https://as.example"]);
        m.scopes_supported = Some(vec!["mcp".into()]);
        m.resource_name = Some("Demo".into());
        m.resource_documentation = Some("https://docs.example".into());
        PrmService::new(m).unwrap()
    }

    #[test]
    fn paths_for_path_and_root_resources() {
        assert_eq!(
            service("https://h.example/mcp").paths(),
            [
                "/.well-known/oauth-protected-resource/mcp",
                "/.well-known/oauth-protected-resource"
            ]
        );
        assert_eq!(
            service("https://h.example").paths(),
            ["/.well-known/oauth-protected-resource"]
        );
        assert_eq!(
            service("https://h.example/").paths(),
            ["/.well-known/oauth-protected-resource"]
        );
    }

    #[tokio::test]
    async fn serves_the_document() {
        let svc = service("https://h.example/mcp");
        for path in svc.paths().to_vec() {
            let req = Request::get(path).body(Full::<Bytes>::default()).unwrap();
            let resp = svc.clone().oneshot(req).await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            assert_eq!(resp.headers()[CONTENT_TYPE], "application/json");
            assert_eq!(resp.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(
                doc,
                serde_json::json!({
                    "resource": "https://h.example/mcp",
                    "authorization_servers": ["https://as.example"],
                    "scopes_supported": ["mcp"],
                    "bearer_methods_supported": ["header"],
                    "dpop_signing_alg_values_supported": ["ES256", "ES384", "EdDSA", "RS256", "PS256"],
                    "resource_name": "Demo",
                    "resource_documentation": "https://docs.example",
                })
            );
        }
        let resp = svc.respond(&Method::POST, "/.well-known/oauth-protected-resource");
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            svc.respond(&Method::GET, "/other").status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn refuses_bad_documents() {
        assert_eq!(
            PrmService::new(metadata("https://h/mcp", Vec::<String>::new())).err(),
            Some(ConfigError::NoAuthorizationServer)
        );
        assert!(matches!(
            PrmService::new(metadata("h/mcp", ["https://as"])),
            Err(ConfigError::InvalidResource(_))
        ));
    }
}
