//! An MCP-aware scope policy: which scopes a request needs, decided from its JSON-RPC body.
//!
//! Rules are looked up from the most specific to the least, and **the most specific rule that
//! matches wins** (rules are not added up):
//!
//! 1. `tools/call` → `tools[params.name]`; `prompts/get` → `prompts[params.name]`;
//!    `resources/read`, `resources/subscribe`, `resources/unsubscribe` → `resources[params.uri]`
//!    (exact key first, then the longest key ending in `*` that is a prefix of the URI);
//! 2. `methods[method]` (exact key first, then the longest `prefix*` key);
//! 3. `default`.
//!
//! So a tool that needs `files:write` needs only that, even when `default` is `mcp`; put `mcp` in
//! the tool's entry too if it should need both. A batch needs the union of what its messages
//! need. A body that is JSON but not a JSON-RPC request (an empty batch, a JSON-RPC response, a
//! number) needs `default` and is never public.
//!
//! **A body the policy cannot read with certainty is refused, never guessed at** ([`BodyError`],
//! answered `400` by the guard and never forwarded): JSON that does not parse, and JSON whose
//! `method`, `params`, `params.name` or `params.uri` is repeated or has a look-alike key
//! (`Method`, `NAME`), which other JSON parsers read differently. The guard also refuses, before
//! reading, what it could only read by guessing: a `Content-Encoding`, a charset other than
//! UTF-8, a media type other than `application/json`, a byte order mark, and a body on any
//! method but `POST` (see [`crate::layer`]).
//!
//! Requests other than `POST` (the SSE `GET`, the session `DELETE`) need `default`.
//!
//! `public` lists methods that need no token: only `initialize`, `ping` and `notifications/*`
//! may be listed (the MCP handshake). A batch is public only when all of its messages are.
//! **Leave it empty unless a client truly cannot send a token** (a conformance harness). The
//! trade-off: with a public handshake, a client connects without a token and meets its first
//! `401` later, often on two requests at the same moment (its `POST` and its `GET` stream);
//! clients that start authorization on a refusal then start it twice, and register twice.
//! Anyone can also open sessions without a token, which costs the server memory. With nothing
//! public, the very first request (`initialize`) is answered `401` with `scope` set to
//! `default`, so a client authorizes once, for the least scope, and steps up later.
//!
//! The policy is plain data with `serde`, for a `--scopes-file`:
//!
//! ```toml
//! default = "mcp"
//! [methods]
//! "tools/list" = "mcp"
//! [tools]
//! delete_file = "files:write"
//! [resources]
//! "file:///home/*" = "files:read"
//! [prompts]
//! summarize = "mcp prompts"
//! ```

use crate::error::ConfigError;
use mcp_oauth_core::ScopeSet;
use mcp_oauth_core::scope::is_scope_token;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// The scope that never goes into `scopes_supported` or a challenge (SEP-2207): refresh is a
/// matter between client and authorization server, not something a resource asks for.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// Methods that may be declared public.
const PUBLIC_ALLOWED: [&str; 2] = ["initialize", "ping"];
const NOTIFICATIONS_PREFIX: &str = "notifications/";

/// Which scopes each MCP request needs. See the module documentation for the lookup order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScopePolicy {
    /// Needed when no more specific rule matches. Empty: any valid token will do.
    pub default: ScopeSet,
    /// Per JSON-RPC method (`tools/list`, `resources/list`, ...); a key ending in `*` matches
    /// by prefix.
    pub methods: BTreeMap<String, ScopeSet>,
    /// Per tool name, for `tools/call`.
    pub tools: BTreeMap<String, ScopeSet>,
    /// Per resource URI, for `resources/read` and `resources/(un)subscribe`; a key ending in `*`
    /// matches by prefix.
    pub resources: BTreeMap<String, ScopeSet>,
    /// Per prompt name, for `prompts/get`.
    pub prompts: BTreeMap<String, ScopeSet>,
    /// Methods that need no token: only `initialize`, `ping`, `notifications/*` (or one
    /// `notifications/...` method).
    pub public: BTreeSet<String>,
    /// What the protected resource metadata advertises. When absent, every scope named in this
    /// policy except `offline_access`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes_supported: Option<ScopeSet>,
}

/// Why the policy cannot read a `POST` body with certainty; the guard answers `400` and never
/// hands the body on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// Not JSON (`serde_json`'s reason, with line and column).
    #[error("the request body is not valid JSON: {0}")]
    NotJson(String),
    /// A member the policy reads is repeated or has a look-alike key.
    #[error("the request body is ambiguous: {0}")]
    Ambiguous(String),
}

/// What one request needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirement {
    /// No token is needed (every message is a public method).
    pub public: bool,
    /// The scopes the token must grant.
    pub scopes: ScopeSet,
}

impl Requirement {
    fn public() -> Self {
        Self {
            public: true,
            scopes: ScopeSet::new(),
        }
    }
}

/// A [`Requirement`] that borrows the policy's scope set when it can (every single message), so
/// that the guard copies no scopes on the success path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Need<'p> {
    pub(crate) public: bool,
    pub(crate) scopes: Cow<'p, ScopeSet>,
}

impl Need<'_> {
    fn public() -> Self {
        Need {
            public: true,
            scopes: Cow::Owned(ScopeSet::new()),
        }
    }

    pub(crate) fn into_requirement(self) -> Requirement {
        Requirement {
            public: self.public,
            scopes: self.scopes.into_owned(),
        }
    }
}

fn scopes(s: &str) -> ScopeSet {
    ScopeSet::from_tokens(s.split(' ').filter(|t| !t.is_empty()))
}

impl ScopePolicy {
    /// An empty policy: every request needs a valid token and no particular scope.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the default scopes (space-delimited).
    pub fn default_scopes(mut self, scope: &str) -> Self {
        self.default = scopes(scope);
        self
    }

    /// Sets the scopes for a JSON-RPC method (or a `prefix*` pattern).
    pub fn method(mut self, method: impl Into<String>, scope: &str) -> Self {
        self.methods.insert(method.into(), scopes(scope));
        self
    }

    /// Sets the scopes for one tool of `tools/call`.
    pub fn tool(mut self, name: impl Into<String>, scope: &str) -> Self {
        self.tools.insert(name.into(), scopes(scope));
        self
    }

    /// Sets the scopes for a resource URI (or a `prefix*` pattern) of `resources/read`.
    pub fn resource(mut self, uri: impl Into<String>, scope: &str) -> Self {
        self.resources.insert(uri.into(), scopes(scope));
        self
    }

    /// Sets the scopes for one prompt of `prompts/get`.
    pub fn prompt(mut self, name: impl Into<String>, scope: &str) -> Self {
        self.prompts.insert(name.into(), scopes(scope));
        self
    }

    /// Declares a method public (see [`ScopePolicy::public`]); checked by
    /// [`ScopePolicy::validate`].
    pub fn public_method(mut self, method: impl Into<String>) -> Self {
        self.public.insert(method.into());
        self
    }

    /// Declares the MCP handshake public: `initialize`, `ping` and `notifications/*`.
    pub fn public_handshake(self) -> Self {
        self.public_method("initialize")
            .public_method("ping")
            .public_method("notifications/*")
    }

    /// Sets what the protected resource metadata advertises as `scopes_supported`.
    pub fn with_scopes_supported(mut self, scope: &str) -> Self {
        self.scopes_supported = Some(scopes(scope));
        self
    }

    /// Checks every scope token against the RFC 6749 grammar and every public method against
    /// the short list that may be public. The guard refuses to start otherwise.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for s in self.all_declared().iter() {
            if !is_scope_token(s) {
                return Err(ConfigError::InvalidScope(s.to_owned()));
            }
        }
        for m in &self.public {
            let ok = PUBLIC_ALLOWED.contains(&m.as_str())
                || m.strip_prefix(NOTIFICATIONS_PREFIX)
                    .is_some_and(|rest| !rest.is_empty());
            if !ok {
                return Err(ConfigError::NotPublicMethod(m.clone()));
            }
        }
        Ok(())
    }

    /// Whether deciding a request needs its body: false for a policy with only `default`, so
    /// that such a guard never buffers bodies.
    pub fn inspects_body(&self) -> bool {
        !(self.methods.is_empty()
            && self.tools.is_empty()
            && self.resources.is_empty()
            && self.prompts.is_empty()
            && self.public.is_empty())
    }

    /// What a request without a JSON-RPC body (`GET`, `DELETE`, ...) needs.
    pub fn requirement_without_body(&self) -> Requirement {
        self.need_without_body().into_requirement()
    }

    /// What a `POST` with this body needs: a single message or a batch (the union of what its
    /// messages need; public only when all are). Other JSON needs `default`; a body that is not
    /// JSON, or whose members the policy reads are ambiguous, is an error (module docs).
    pub fn requirement_for_body(&self, body: &[u8]) -> Result<Requirement, BodyError> {
        self.need_for_body(body).map(Need::into_requirement)
    }

    /// What one JSON-RPC message needs.
    pub fn requirement_for_message(&self, msg: &Value) -> Requirement {
        let method = msg.get("method").and_then(Value::as_str);
        let param = |name: &str| {
            msg.get("params")
                .and_then(|p| p.get(name))
                .and_then(Value::as_str)
        };
        self.need_for(method, param("name"), param("uri"))
            .into_requirement()
    }

    pub(crate) fn need_without_body(&self) -> Need<'_> {
        Need {
            public: false,
            scopes: Cow::Borrowed(&self.default),
        }
    }

    /// [`ScopePolicy::requirement_for_body`], reading only `method`, `params.name` and
    /// `params.uri` (borrowed from `body` unless escaped) and skipping everything else without
    /// building it; a body is read exactly as `serde_json::Value` reads it, or refused.
    pub(crate) fn need_for_body(&self, body: &[u8]) -> Result<Need<'_>, BodyError> {
        Ok(match serde_json::from_slice::<wire::Body<'_>>(body) {
            Ok(wire::Body::Single(msg)) => self.need_for_wire(&msg),
            Ok(wire::Body::Batch(batch)) if !batch.is_empty() => {
                let mut out = Requirement::public();
                for msg in &batch {
                    let r = self.need_for_wire(msg);
                    out.public &= r.public;
                    if !r.public {
                        out.scopes = out.scopes.union(&r.scopes);
                    }
                }
                Need {
                    public: out.public,
                    scopes: Cow::Owned(out.scopes),
                }
            }
            Ok(_) => self.need_without_body(),
            Err(e) if e.classify() == serde_json::error::Category::Data => {
                return Err(BodyError::Ambiguous(e.to_string()));
            }
            Err(e) => return Err(BodyError::NotJson(e.to_string())),
        })
    }

    fn need_for_wire(&self, msg: &wire::Message<'_>) -> Need<'_> {
        match msg {
            wire::Message::Object { method, params } => {
                let (name, uri) = match params {
                    Some(wire::Params::Object { name, uri }) => (
                        name.as_ref().and_then(wire::Field::as_str),
                        uri.as_ref().and_then(wire::Field::as_str),
                    ),
                    _ => (None, None),
                };
                self.need_for(method.as_ref().and_then(wire::Field::as_str), name, uri)
            }
            wire::Message::NotObject => self.need_without_body(),
        }
    }

    /// What a message with this `method`, `params.name` and `params.uri` needs (each `None`
    /// when absent or not a string).
    fn need_for(&self, method: Option<&str>, name: Option<&str>, uri: Option<&str>) -> Need<'_> {
        let Some(method) = method else {
            // A JSON-RPC response (to a server-initiated request) or not JSON-RPC at all.
            return self.need_without_body();
        };
        if self.is_public(method) {
            return Need::public();
        }
        let specific = match method {
            "tools/call" => name.and_then(|n| self.tools.get(n)),
            "prompts/get" => name.and_then(|n| self.prompts.get(n)),
            "resources/read" | "resources/subscribe" | "resources/unsubscribe" => {
                uri.and_then(|u| lookup(&self.resources, u))
            }
            _ => None,
        };
        let scopes = specific
            .or_else(|| lookup(&self.methods, method))
            .unwrap_or(&self.default);
        Need {
            public: false,
            scopes: Cow::Borrowed(scopes),
        }
    }

    fn is_public(&self, method: &str) -> bool {
        self.public.contains(method)
            || (method.starts_with(NOTIFICATIONS_PREFIX) && self.public.contains("notifications/*"))
    }

    /// The scope set to put in a `403 insufficient_scope` challenge.
    ///
    /// We follow the spec's *recommended* strategy (AUTH §Scope Challenge Handling): the scopes
    /// this request needs, plus the scopes the token already has that are still relevant to this
    /// resource (named somewhere in this policy or in `scopes_supported`). A client that asks
    /// for exactly this set keeps what it could already do here and gains what it lacked,
    /// without the user being prompted again for each tool; scopes for other resources and
    /// `offline_access` are left out, so the challenge never widens a token beyond this server.
    pub fn step_up(&self, needed: &ScopeSet, granted: &ScopeSet) -> ScopeSet {
        needed.union(&granted.intersection(&self.relevant()))
    }

    /// `scopes_supported` for the protected resource metadata.
    pub fn scopes_supported(&self) -> Vec<String> {
        let set = match &self.scopes_supported {
            Some(s) => s.clone(),
            None => self.all_declared(),
        };
        set.iter()
            .filter(|s| *s != OFFLINE_ACCESS)
            .map(str::to_owned)
            .collect()
    }

    fn relevant(&self) -> ScopeSet {
        let mut all = self.all_declared();
        if let Some(s) = &self.scopes_supported {
            all = all.union(s);
        }
        all.iter().filter(|s| *s != OFFLINE_ACCESS).collect()
    }

    fn all_declared(&self) -> ScopeSet {
        let mut all = self.default.clone();
        for map in [&self.methods, &self.tools, &self.resources, &self.prompts] {
            for s in map.values() {
                all = all.union(s);
            }
        }
        all
    }
}

/// Exact key first, then the longest `prefix*` key that `key` starts with.
fn lookup<'a>(map: &'a BTreeMap<String, ScopeSet>, key: &str) -> Option<&'a ScopeSet> {
    if let Some(v) = map.get(key) {
        return Some(v);
    }
    map.iter()
        .filter_map(|(k, v)| {
            let prefix = k.strip_suffix('*')?;
            key.starts_with(prefix).then_some((prefix.len(), v))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, v)| v)
}

mod wire;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod fuzz;
