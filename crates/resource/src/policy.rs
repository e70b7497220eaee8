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
//! need. A body that is not JSON-RPC (malformed JSON, an empty batch, a JSON-RPC response) needs
//! `default` and is never public: the guard then demands a token and hands the body to the MCP
//! server unchanged, which answers the parse error itself in JSON-RPC form. A guard-made `400`
//! would not be a JSON-RPC error, and letting it through unauthenticated would open a hole.
//!
//! Requests other than `POST` (the SSE `GET`, the session `DELETE`) need `default`.
//!
//! `public` lists methods that need no token: only `initialize`, `ping` and `notifications/*`
//! may be listed (the MCP handshake; useful for conformance harnesses). A batch is public only
//! when all of its messages are.
//!
//! The policy is plain data with `serde`, for a `--scopes-file`:
//!
//! ```toml
//! default = "mcp"
//! public = ["initialize", "ping", "notifications/*"]
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
    /// messages need; public only when all are). Anything else needs `default`.
    pub fn requirement_for_body(&self, body: &[u8]) -> Requirement {
        self.need_for_body(body).into_requirement()
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
    /// building it; the body is accepted or refused exactly as `serde_json::Value` would.
    pub(crate) fn need_for_body(&self, body: &[u8]) -> Need<'_> {
        match serde_json::from_slice::<wire::Body<'_>>(body) {
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
            _ => self.need_without_body(),
        }
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

/// The parts of a JSON-RPC body the policy reads, deserialized without building the rest.
///
/// Hand-written visitors rather than derived structs, to keep `serde_json::Value`'s semantics
/// exactly: a repeated key takes its last value (a derived struct would refuse the body), a
/// `method`, `name` or `uri` that is not a string counts as absent, and every skipped value is
/// still parsed through `deserialize_any` (not `deserialize_ignored_any`, which accepts numbers
/// out of range, lone surrogates and unbounded nesting), so a body is refused exactly when
/// `serde_json::from_slice::<Value>` refuses it.
mod wire {
    use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
    use std::borrow::Cow;
    use std::fmt;

    /// A whole body: one message, a batch, or anything else.
    pub(super) enum Body<'a> {
        Single(Message<'a>),
        Batch(Vec<Message<'a>>),
        Other,
    }

    /// One element of a body.
    pub(super) enum Message<'a> {
        Object {
            method: Option<Field<'a>>,
            params: Option<Params<'a>>,
        },
        NotObject,
    }

    /// `params`.
    pub(super) enum Params<'a> {
        Object {
            name: Option<Field<'a>>,
            uri: Option<Field<'a>>,
        },
        NotObject,
    }

    /// A value the policy reads: a string (borrowed unless it had escapes), or something else.
    pub(super) enum Field<'a> {
        Str(Cow<'a, str>),
        NotStr,
    }

    impl Field<'_> {
        pub(super) fn as_str(&self) -> Option<&str> {
            match self {
                Field::Str(s) => Some(s),
                Field::NotStr => None,
            }
        }
    }

    /// Any value, checked and dropped.
    struct Skip;

    /// An object key, compared without keeping it.
    enum Key {
        Method,
        Params,
        Name,
        Uri,
        Other,
    }

    macro_rules! scalars {
        ($out:expr) => {
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok($out)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok($out)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok($out)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok($out)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok($out)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok($out)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                Skip::deserialize(d).map(|_| $out)
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Self::Value, D::Error> {
                Skip::deserialize(d).map(|_| $out)
            }
        };
    }

    fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(())
    }

    fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(())
    }

    impl<'de> Deserialize<'de> for Skip {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Skip;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("any JSON value")
                }
                scalars!(Skip);
                fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
                    Ok(Skip)
                }
                fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Skip, A::Error> {
                    drain_seq(seq).map(|()| Skip)
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Skip, A::Error> {
                    drain_map(map).map(|()| Skip)
                }
            }
            d.deserialize_any(V)
        }
    }

    impl<'de> Deserialize<'de> for Key {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Key;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an object key")
                }
                fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                    Ok(match key {
                        "method" => Key::Method,
                        "params" => Key::Params,
                        "name" => Key::Name,
                        "uri" => Key::Uri,
                        _ => Key::Other,
                    })
                }
            }
            // Keys go through `deserialize_any` like `Value`'s `String` keys do.
            d.deserialize_any(V)
        }
    }

    impl<'de> Deserialize<'de> for Field<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Field<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("any JSON value")
                }
                scalars!(Field::NotStr);
                fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                    Ok(Field::Str(Cow::Borrowed(s)))
                }
                fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                    Ok(Field::Str(Cow::Owned(s.to_owned())))
                }
                fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
                    Ok(Field::Str(Cow::Owned(s)))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                    drain_seq(seq).map(|()| Field::NotStr)
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                    drain_map(map).map(|()| Field::NotStr)
                }
            }
            d.deserialize_any(V)
        }
    }

    impl<'de> Deserialize<'de> for Params<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Params<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("any JSON value")
                }
                scalars!(Params::NotObject);
                fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                    Ok(Params::NotObject)
                }
                fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                    drain_seq(seq).map(|()| Params::NotObject)
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                    let (mut name, mut uri) = (None, None);
                    while let Some(key) = map.next_key::<Key>()? {
                        // A repeated key takes its last value, as in `serde_json::Value`.
                        match key {
                            Key::Name => name = Some(map.next_value()?),
                            Key::Uri => uri = Some(map.next_value()?),
                            _ => {
                                map.next_value::<Skip>()?;
                            }
                        }
                    }
                    Ok(Params::Object { name, uri })
                }
            }
            d.deserialize_any(V)
        }
    }

    struct MessageVisitor;

    impl<'de> Visitor<'de> for MessageVisitor {
        type Value = Message<'de>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        scalars!(Message::NotObject);
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Message::NotObject)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            drain_seq(seq).map(|()| Message::NotObject)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let (mut method, mut params) = (None, None);
            while let Some(key) = map.next_key::<Key>()? {
                // A repeated key takes its last value, as in `serde_json::Value`.
                match key {
                    Key::Method => method = Some(map.next_value()?),
                    Key::Params => params = Some(map.next_value()?),
                    _ => {
                        map.next_value::<Skip>()?;
                    }
                }
            }
            Ok(Message::Object { method, params })
        }
    }

    impl<'de> Deserialize<'de> for Message<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(MessageVisitor)
        }
    }

    impl<'de> Deserialize<'de> for Body<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Body<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("any JSON value")
                }
                scalars!(Body::Other);
                fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                    Ok(Body::Other)
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                    let mut batch = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                    while let Some(msg) = seq.next_element()? {
                        batch.push(msg);
                    }
                    Ok(Body::Batch(batch))
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                    MessageVisitor.visit_map(map).map(Body::Single)
                }
            }
            d.deserialize_any(V)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy() -> ScopePolicy {
        ScopePolicy::new()
            .default_scopes("mcp")
            .method("tools/list", "mcp tools:list")
            .method("resources/*", "res")
            .tool("read_file", "files:read")
            .tool("write_file", "files:write")
            .resource("file:///home/*", "files:read")
            .resource("file:///home/secret/*", "secret")
            .resource("file:///etc/passwd", "root")
            .prompt("summarize", "prompts")
            .public_handshake()
    }

    fn need(p: &ScopePolicy, v: Value) -> Requirement {
        p.requirement_for_body(&serde_json::to_vec(&v).unwrap())
    }

    fn s(x: &str) -> ScopeSet {
        ScopeSet::parse(x).unwrap()
    }

    #[test]
    fn single_messages() {
        let p = policy();
        assert!(p.validate().is_ok());
        let call = |name: &str| json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":name}});
        assert_eq!(need(&p, call("read_file")).scopes, s("files:read"));
        assert_eq!(need(&p, call("unknown")).scopes, s("mcp"));
        assert_eq!(
            need(&p, json!({"jsonrpc":"2.0","id":1,"method":"tools/list"})).scopes,
            s("mcp tools:list")
        );
        let read = |uri: &str| json!({"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":uri}});
        assert_eq!(need(&p, read("file:///home/a.txt")).scopes, s("files:read"));
        assert_eq!(need(&p, read("file:///home/secret/k")).scopes, s("secret"));
        assert_eq!(need(&p, read("file:///etc/passwd")).scopes, s("root"));
        // No resource rule: the `resources/*` method rule.
        assert_eq!(need(&p, read("file:///tmp/x")).scopes, s("res"));
        assert_eq!(
            need(
                &p,
                json!({"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"summarize"}})
            )
            .scopes,
            s("prompts")
        );
        assert_eq!(
            need(&p, json!({"jsonrpc":"2.0","id":1,"method":"prompts/list"})).scopes,
            s("mcp")
        );
    }

    #[test]
    fn public_handshake() {
        let p = policy();
        for m in ["initialize", "ping", "notifications/initialized"] {
            let r = need(&p, json!({"jsonrpc":"2.0","method":m}));
            assert!(r.public, "{m}");
        }
        assert!(!need(&p, json!({"jsonrpc":"2.0","id":1,"method":"tools/list"})).public);
        assert!(
            !ScopePolicy::new()
                .requirement_for_body(br#"{"jsonrpc":"2.0","id":1,"method":"initialize"}"#)
                .public
        );
    }

    #[test]
    fn batches_union_and_public_only_if_all_are() {
        let p = policy();
        let r = need(
            &p,
            json!([
                {"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file"}},
                {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"write_file"}},
                {"jsonrpc":"2.0","method":"notifications/initialized"}
            ]),
        );
        assert!(!r.public);
        assert_eq!(r.scopes, s("files:read files:write"));
        let r = need(
            &p,
            json!([{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/cancelled"}]),
        );
        assert!(r.public);
    }

    #[test]
    fn malformed_needs_default_and_is_not_public() {
        let p = policy();
        for body in [
            &b"{not json"[..],
            b"[]",
            b"42",
            b"",
            br#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
        ] {
            let r = p.requirement_for_body(body);
            assert!(!r.public);
            assert_eq!(r.scopes, s("mcp"));
        }
        assert_eq!(p.requirement_without_body().scopes, s("mcp"));
    }

    #[test]
    fn escaped_strings_are_unescaped() {
        let p = policy();
        let r = p.requirement_for_body(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"na\u006de":"write\u005ffile"}}"#,
        );
        assert_eq!(r.scopes, s("files:write"));
        let r = p.requirement_for_body(
            br#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:\/\/\/etc\/passwd"}}"#,
        );
        assert_eq!(r.scopes, s("root"));
    }

    #[test]
    fn large_arguments_are_skipped() {
        let p = policy();
        let big: Vec<Value> = (0..2000)
            .map(|i| json!({"k": i, "s": "x".repeat(50), "nested": [1.5, null, true, {"name": "zzz"}]}))
            .collect();
        let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
            "params":{"arguments":{"items": big, "name": "nope"},"name":"read_file"}});
        assert_eq!(need(&p, body).scopes, s("files:read"));
    }

    /// The requirement as computed before the borrowed reader: through `serde_json::Value`.
    fn reference(p: &ScopePolicy, body: &[u8]) -> Requirement {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Array(batch)) if !batch.is_empty() => {
                let mut out = Requirement::public();
                for msg in &batch {
                    let r = p.requirement_for_message(msg);
                    out.public &= r.public;
                    if !r.public {
                        out.scopes = out.scopes.union(&r.scopes);
                    }
                }
                out
            }
            Ok(msg @ Value::Object(_)) => p.requirement_for_message(&msg),
            _ => p.requirement_without_body(),
        }
    }

    #[test]
    fn same_answer_as_value_for_odd_bodies() {
        let p = policy();
        let deep = |n: usize| {
            format!(
                r#"{{"method":"tools/call","params":{{"name":"read_file","arguments":{}{}}}}}"#,
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        let bodies: Vec<String> = [
            // Repeated keys: the last one wins.
            r#"{"method":"ping","method":"tools/call","params":{"name":"read_file"}}"#,
            r#"{"method":"tools/call","method":"ping"}"#,
            r#"{"method":"tools/call","params":{"name":"read_file","name":"write_file"}}"#,
            r#"{"method":"tools/call","params":{"name":"read_file"},"params":[1]}"#,
            r#"{"method":"tools/call","method":5,"params":{"name":"read_file"}}"#,
            // Not strings, not objects.
            r#"{"method":["tools/call"],"params":{"name":"read_file"}}"#,
            r#"{"method":"tools/call","params":{"name":{"x":"read_file"}}}"#,
            r#"{"method":"tools/call","params":["read_file"]}"#,
            r#"{"method":"tools/call","params":"read_file"}"#,
            r#"{"method":"tools/call","params":null}"#,
            r#"{"method":"tools/call"}"#,
            r#"{"id":1,"result":{"method":"ping"}}"#,
            r#"[{"method":"ping"},7,{"method":"notifications/x"}]"#,
            r#"[{"method":"ping"},{"method":"initialize"}]"#,
            r#"[[{"method":"ping"}]]"#,
            r#""tools/call""#,
            "null",
            "true",
            "  {\"method\":\"ping\"}  \n",
            // What `Value` refuses, the policy must refuse too.
            r#"{"method":"tools/call","params":{"name":"read_file","arguments":{"n":1e400}}}"#,
            r#"{"method":"tools/call","params":{"name":"read_file","arguments":{"s":"\ud800"}}}"#,
            r#"{"method":"tools/call","params":{"name":"read_file","arguments":{"s":"\x"}}}"#,
            r#"{"method":"tools/call","params":{"name":"read_file","arguments":{"n":01}}}"#,
            r#"{"method":"tools/call","params":{"name":"read_file"}} x"#,
            r#"{"method":"tools/call","params":{"name":"read_file"},}"#,
            r#"{"method":"ping"}{"method":"ping"}"#,
            r#"{"method":"tools/call","params":{"name":"read_file","arguments":{"a":[1,2,]}}}"#,
            r#"{"method":"ping","\ud800":1}"#,
        ]
        .iter()
        .map(|b| b.to_string())
        .chain([deep(120), deep(127), deep(128), deep(200)])
        .collect();
        for body in &bodies {
            assert_eq!(
                p.requirement_for_body(body.as_bytes()),
                reference(&p, body.as_bytes()),
                "{body}"
            );
        }
        // Refused, so `default`: a number out of range, nesting past serde_json's limit.
        assert_eq!(
            p.requirement_for_body(bodies[19].as_bytes()).scopes,
            s("mcp")
        );
        assert_eq!(
            p.requirement_for_body(deep(200).as_bytes()).scopes,
            s("mcp")
        );
        assert_eq!(
            p.requirement_for_body(deep(120).as_bytes()).scopes,
            s("files:read")
        );
        // Invalid UTF-8 anywhere.
        let mut bad =
            br#"{"method":"tools/call","params":{"name":"read_file","arguments":{"s":"#.to_vec();
        bad.extend_from_slice(b"\"\xff\"}}}");
        assert_eq!(p.requirement_for_body(&bad), reference(&p, &bad));
        assert_eq!(p.requirement_for_body(&bad).scopes, s("mcp"));
    }

    #[test]
    fn step_up_is_needed_plus_relevant_granted() {
        let p = policy();
        let granted = s("files:read openid offline_access other:api mcp");
        assert_eq!(
            p.step_up(&s("files:write"), &granted),
            s("files:read files:write mcp")
        );
    }

    #[test]
    fn scopes_supported_from_declarations() {
        let p = policy().default_scopes("mcp offline_access");
        assert_eq!(
            p.scopes_supported(),
            vec![
                "files:read",
                "files:write",
                "mcp",
                "prompts",
                "res",
                "root",
                "secret",
                "tools:list"
            ]
        );
        assert_eq!(
            p.with_scopes_supported("mcp").scopes_supported(),
            vec!["mcp"]
        );
    }

    #[test]
    fn validation() {
        assert_eq!(
            ScopePolicy::new().public_method("tools/list").validate(),
            Err(ConfigError::NotPublicMethod("tools/list".into()))
        );
        assert_eq!(
            ScopePolicy::new()
                .public_method("notifications/")
                .validate(),
            Err(ConfigError::NotPublicMethod("notifications/".into()))
        );
        assert_eq!(
            ScopePolicy::new().tool("t", "bad\"scope").validate(),
            Err(ConfigError::InvalidScope("bad\"scope".into()))
        );
        assert!(!ScopePolicy::new().default_scopes("mcp").inspects_body());
        assert!(policy().inspects_body());
    }

    #[test]
    fn parses_toml_and_json() {
        let toml_src = r#"
            default = "mcp"
            public = ["initialize", "ping", "notifications/*"]
            scopes_supported = "mcp files:read"
            [methods]
            "tools/list" = "mcp"
            [tools]
            delete_file = "files:write"
            [resources]
            "file:///home/*" = "files:read"
            [prompts]
            summarize = "mcp prompts"
        "#;
        let p: ScopePolicy = toml::from_str(toml_src).unwrap();
        assert!(p.validate().is_ok());
        assert_eq!(p.tools["delete_file"], s("files:write"));
        assert_eq!(p.scopes_supported(), vec!["files:read", "mcp"]);
        let j: ScopePolicy =
            serde_json::from_str(r#"{"default":"mcp","tools":{"delete_file":"files:write"}}"#)
                .unwrap();
        assert_eq!(j.default, s("mcp"));
        assert!(serde_json::from_str::<ScopePolicy>(r#"{"defualt":"mcp"}"#).is_err());
        assert!(serde_json::from_str::<ScopePolicy>(r#"{"default":"a\"b"}"#).is_err());
        // Round trip.
        let back: ScopePolicy = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }
}
