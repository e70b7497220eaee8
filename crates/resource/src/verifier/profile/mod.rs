//! Provider profiles: what an identity provider's access tokens look like, so that the verifiers
//! check them as that provider documents them rather than as RFC 9068 alone would.
//!
//! A [`Profile`] says
//! - where the scopes live and in what shape (`scope` string, `scp` string or array, Auth0's RBAC
//!   `permissions`, Entra ID's `roles`): every listed claim is read, string (space-delimited) or
//!   array of strings, and the principal's scopes are their union;
//! - where the audience lives (`aud`, or Cognito's `client_id`), and whether this server's resource
//!   URI can be its value at all; the accepted values are the resource URI (compared as
//!   [`mcp_oauth_core::resource::audience_matches`] does) plus the configured aliases (compared
//!   exactly). The audience is always checked: a profile that cannot check it without aliases
//!   (Keycloak, Cognito) is refused at build when none are given ([`Profile::audience_reason`]);
//! - which JWS `typ` header values the provider uses (RFC 9068's `at+jwt` stays the default
//!   profile's rule, stopping an ID token being replayed as an access token; providers whose
//!   access tokens carry `JWT` or no `typ` stop that replay by the audience and by required claims);
//! - the issuer forms the provider uses (Auth0's trailing slash, Okta custom authorization servers,
//!   Entra ID v1 and v2 per tenant, Cognito user pools, Keycloak realms), checked at build
//!   ([`Profile::issuer_forms`]);
//! - claims that must have an exact value (Cognito `token_use = access`, Keycloak `typ = Bearer`,
//!   Entra ID `tid` = the tenant of the issuer).
//!
//! One file per provider, each citing the provider's documentation.
//!
//! ```
//! # fn demo() -> Result<(), mcp_oauth_resource::ConfigError> {
//! use mcp_oauth_resource::{JwtVerifier, Profile};
//! let resource = "https://mcp.example.com/mcp";
//! // Keycloak's default `aud` names no resource server: the Audience mapper's value is named.
//! let verifier = JwtVerifier::builder("https://id.example.com/realms/mcp", resource)
//!     .profile(Profile::keycloak())
//!     .audience("mcp-guard")
//!     .build()?;
//! assert!(JwtVerifier::builder("https://id.example.com/realms/mcp", resource)
//!     .profile(Profile::keycloak())
//!     .build()
//!     .is_err());
//! # let _ = verifier; Ok(()) }
//! # demo().unwrap();
//! ```

mod auth0;
mod cognito;
pub mod entra;
mod generic;
mod keycloak;
mod okta;

use crate::error::ConfigError;
use mcp_oauth_core::ScopeSet;
use mcp_oauth_core::resource::audience_matches;
use serde_json::Value;

/// How a provider's access tokens are read and checked. Build one with a provider's constructor
/// ([`Profile::auth0`], [`Profile::okta`], [`Profile::entra`], [`Profile::cognito`],
/// [`Profile::keycloak`]), [`Profile::rfc9068`] (the default) or [`Profile::generic`], then adjust
/// it with the setters.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    name: String,
    scope_claims: Vec<String>,
    audience_claims: Vec<String>,
    client_id_claims: Vec<String>,
    typ: Vec<String>,
    typ_optional: bool,
    required_claims: Vec<(String, Value)>,
    needs_scope_claim: bool,
    resource_in_audience: bool,
    audience_reason: Option<String>,
    issuer_rule: IssuerRule,
}

/// Which issuer forms a profile accepts (checked at build; see [`Profile::issuer_forms`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IssuerRule {
    Exact,
    Auth0,
    Okta,
    Entra,
    Cognito,
    Keycloak,
}

/// The issuer values a verifier accepts in `iss`, from the configured issuer and its profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerForms {
    /// The issuer whose metadata is discovered (its document's `issuer` must be exactly this).
    pub discovery: String,
    /// Every value accepted in `iss` (the discovery issuer first).
    pub accepted: Vec<String>,
    /// Claims the issuer form implies (Entra ID: `tid` equal to the issuer's tenant).
    pub required_claims: Vec<(String, Value)>,
}

impl Default for Profile {
    fn default() -> Self {
        Self::rfc9068()
    }
}

impl Profile {
    fn base(name: &str, issuer_rule: IssuerRule) -> Self {
        Self {
            name: name.to_owned(),
            scope_claims: vec!["scope".into()],
            audience_claims: vec!["aud".into()],
            client_id_claims: vec!["client_id".into(), "azp".into()],
            typ: vec!["at+jwt".into()],
            typ_optional: false,
            required_claims: Vec::new(),
            needs_scope_claim: false,
            resource_in_audience: true,
            audience_reason: None,
            issuer_rule,
        }
    }

    /// RFC 9068 JWT access tokens (this project's authorization server, node-oidc-provider, any
    /// RFC 9068 issuer): `typ` `at+jwt` (or `application/at+jwt`), `aud` naming the resource,
    /// scopes in `scope` (and `scp`, which some issuers use), the client in `client_id` or `azp`,
    /// `iss` exactly as configured. The default.
    pub fn rfc9068() -> Self {
        let mut p = Self::base("rfc9068", IssuerRule::Exact);
        p.scope_claims.push("scp".into());
        p
    }

    /// The profile named `name` on the command line: `rfc9068` (alias `default`), `auth0`,
    /// `okta`, `entra`, `cognito`, `keycloak`, `generic`.
    pub fn by_name(name: &str) -> Result<Self, ConfigError> {
        Ok(match name {
            "rfc9068" | "default" => Self::rfc9068(),
            "auth0" => Self::auth0(),
            "okta" => Self::okta(),
            "entra" => Self::entra(),
            "cognito" => Self::cognito(),
            "keycloak" => Self::keycloak(),
            "generic" => Self::generic(),
            other => {
                return Err(ConfigError::Profile(format!(
                    "unknown profile `{other}` (one of rfc9068, auth0, okta, entra, cognito, keycloak, generic)"
                )));
            }
        })
    }

    /// The profile's name (`auth0`, ...).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The claims scopes are read from, replacing the profile's (each a string of space-delimited
    /// scopes or an array of strings; the principal gets their union).
    pub fn scope_claims<I: IntoIterator<Item = S>, S: Into<String>>(mut self, claims: I) -> Self {
        self.scope_claims = claims.into_iter().map(Into::into).collect();
        self
    }

    /// The claims the audience is read from, replacing the profile's (each a string or an array
    /// of strings; one value must be accepted).
    pub fn audience_claims<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        claims: I,
    ) -> Self {
        self.audience_claims = claims.into_iter().map(Into::into).collect();
        self
    }

    /// The accepted JWS `typ` header values, replacing the profile's (compared without case, with
    /// or without the `application/` prefix, RFC 7515 §4.1.9). The value `none` stands for a
    /// header without `typ`.
    pub fn typ<I: IntoIterator<Item = S>, S: Into<String>>(mut self, values: I) -> Self {
        self.typ.clear();
        self.typ_optional = false;
        for v in values {
            let v: String = v.into();
            if v.eq_ignore_ascii_case("none") {
                self.typ_optional = true;
            } else {
                self.typ.push(v);
            }
        }
        self
    }

    /// Accept any `typ` header, or none (only for an issuer whose tokens carry no useful one: an
    /// ID token is then told apart by the audience and the required claims alone).
    pub fn any_typ(mut self) -> Self {
        self.typ.clear();
        self.typ_optional = true;
        self
    }

    /// A claim that must be present with exactly `value` (added to the profile's own).
    pub fn required_claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.required_claims.push((name.into(), value.into()));
        self
    }

    /// The claims the client id is read from, in order (default `client_id`, then `azp`).
    pub fn client_id_claims<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        claims: I,
    ) -> Self {
        self.client_id_claims = claims.into_iter().map(Into::into).collect();
        self
    }

    /// Why this profile cannot check the audience without configured aliases, if it cannot (the
    /// build refuses it then, with this reason).
    pub fn audience_reason(&self) -> Option<&str> {
        self.audience_reason.as_deref()
    }

    /// Whether the resource URI itself is an accepted audience value (false for Cognito, whose
    /// audience is an app client id).
    pub fn resource_in_audience(&self) -> bool {
        self.resource_in_audience
    }

    /// The audience rule for `resource` and `aliases`, refused when nothing could match.
    pub fn audiences(&self, resource: &str, aliases: &[String]) -> Result<Audiences, ConfigError> {
        if aliases.is_empty()
            && let Some(reason) = &self.audience_reason
        {
            return Err(ConfigError::Audience(reason.clone()));
        }
        if let Some(bad) = aliases.iter().find(|a| a.is_empty()) {
            return Err(ConfigError::Audience(format!(
                "an audience alias is empty (`{bad}`)"
            )));
        }
        Ok(Audiences {
            resource: self.resource_in_audience.then(|| resource.to_owned()),
            aliases: aliases.to_vec(),
        })
    }

    /// The issuer values accepted for the configured `issuer`, or why that issuer cannot be one
    /// of this provider's.
    pub fn issuer_forms(&self, issuer: &str) -> Result<IssuerForms, ConfigError> {
        let refuse = |why: String| ConfigError::IssuerForm(format!("`{issuer}`: {why}"));
        let exact = |i: &str| IssuerForms {
            discovery: i.to_owned(),
            accepted: vec![i.to_owned()],
            required_claims: Vec::new(),
        };
        match self.issuer_rule {
            IssuerRule::Exact => Ok(exact(issuer)),
            IssuerRule::Auth0 => auth0::issuer(issuer).map(|i| exact(&i)).map_err(refuse),
            IssuerRule::Okta => okta::issuer(issuer).map(|()| exact(issuer)).map_err(refuse),
            IssuerRule::Cognito => cognito::issuer(issuer)
                .map(|()| exact(issuer))
                .map_err(refuse),
            IssuerRule::Keycloak => keycloak::issuer(issuer)
                .map(|()| exact(issuer))
                .map_err(refuse),
            IssuerRule::Entra => entra::issuer_forms(issuer).map_err(refuse),
        }
    }

    /// Whether a JWS header `typ` (absent: `None`) is one this provider uses for access tokens.
    pub fn accepts_typ(&self, typ: Option<&str>) -> bool {
        match typ {
            None => self.typ_optional,
            Some(t) => {
                let bare = t
                    .get(..12)
                    .filter(|p| p.eq_ignore_ascii_case("application/"))
                    .map_or(t, |_| &t[12..]);
                (self.typ.is_empty() && self.typ_optional)
                    || self.typ.iter().any(|a| a.eq_ignore_ascii_case(bare))
            }
        }
    }

    /// What the refusal of a `typ` says.
    pub(crate) fn typ_refusal(&self) -> String {
        if self.typ.is_empty() {
            return "the token is not an access token of this issuer (unexpected typ)".into();
        }
        format!(
            "the token is not a JWT access token (typ must be {})",
            self.typ.join(" or ")
        )
    }

    /// The principal's scopes: the union of the scope claims.
    pub(crate) fn scopes(&self, claims: &Value) -> Result<ScopeSet, &'static str> {
        let mut out = ScopeSet::new();
        let mut seen = false;
        for name in &self.scope_claims {
            if let Some(v) = claims.get(name) {
                seen = true;
                crate::principal::add_scopes(&mut out, v);
            }
        }
        if self.needs_scope_claim && !seen {
            return Err("the token is not an access token (it carries no scp or roles claim)");
        }
        Ok(out)
    }

    /// Every audience value the token carries, from the audience claims.
    pub(crate) fn audience_values(&self, claims: &Value) -> Vec<String> {
        let mut out = Vec::new();
        for name in &self.audience_claims {
            match claims.get(name) {
                Some(Value::String(s)) => out.push(s.clone()),
                Some(Value::Array(items)) => {
                    out.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
                }
                _ => {}
            }
        }
        out
    }

    /// The client id, from the first client-id claim present.
    pub(crate) fn client_id(&self, claims: &Value) -> Option<String> {
        self.client_id_claims
            .iter()
            .find_map(|c| claims.get(c).and_then(Value::as_str))
            .map(str::to_owned)
    }

    /// The first required claim (the profile's, then `extra`) the token lacks, as a refusal.
    pub(crate) fn check_required(
        &self,
        claims: &Value,
        extra: &[(String, Value)],
    ) -> Result<(), String> {
        for (name, want) in self.required_claims.iter().chain(extra) {
            if claims.get(name) != Some(want) {
                let shown = match want {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                };
                return Err(format!(
                    "the access token's `{name}` claim is not `{shown}`"
                ));
            }
        }
        Ok(())
    }
}

/// The accepted audience values: this server's resource URI (unless the profile's audience can
/// never be a URI) and the configured aliases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audiences {
    resource: Option<String>,
    aliases: Vec<String>,
}

impl Audiences {
    /// Only the resource URI, compared as RFC 8707 audiences are (the default rule).
    pub fn resource(resource: &str) -> Self {
        Self {
            resource: Some(resource.to_owned()),
            aliases: Vec::new(),
        }
    }

    /// Whether one token audience value is accepted.
    pub fn accepts(&self, value: &str) -> bool {
        self.resource
            .as_deref()
            .is_some_and(|r| audience_matches(r, value))
            || self.aliases.iter().any(|a| a == value)
    }

    /// Every accepted value, for messages.
    pub fn describe(&self) -> String {
        self.resource
            .iter()
            .chain(&self.aliases)
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests;
