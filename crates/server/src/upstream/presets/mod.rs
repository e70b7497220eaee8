//! Presets: what each kind of provider needs beyond a plain OpenID provider. One file per
//! preset; each turns a block's fields into a [`Resolved`] description (pure: no I/O), and the
//! quirks live in it, with unit tests.

mod auth0;
mod cognito;
mod entra;
mod github;
mod google;
mod keycloak;
mod oidc;
mod okta;

use crate::config::{Preset, UpstreamConfig};
use std::collections::BTreeMap;

/// How the provider is spoken to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// OpenID Connect: discovery at the issuer, ID tokens.
    Oidc {
        /// Where discovery is read (`{issuer}/.well-known/openid-configuration`).
        issuer: String,
        /// Which `iss` values an ID token (and the discovery document) may carry.
        issuers: IssuerRule,
        /// Endpoints that replace the discovered ones (Cognito's hosted UI domain).
        authorization_endpoint: Option<String>,
        /// See `authorization_endpoint`.
        token_endpoint: Option<String>,
        /// See `authorization_endpoint` (RFC 7009).
        revocation_endpoint: Option<String>,
    },
    /// GitHub: OAuth 2.0 and the REST API (no OpenID Connect).
    Github {
        /// The web base (`https://github.com`).
        web: String,
        /// The REST base (`https://api.github.com`).
        api: String,
    },
}

/// Which issuer values are the provider's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IssuerRule {
    /// Exactly this string, or one of these (Google's `accounts.google.com`).
    Exact(Vec<String>),
    /// Entra ID: `https://login.microsoftonline.com/{tid}/v2.0` (v2 tokens) or
    /// `https://sts.windows.net/{tid}/` (v1 tokens), with `{tid}` the token's own `tid` claim;
    /// `tenant`, when the block names a tenant id, is the only one accepted.
    Entra {
        /// The tenant id the block pins, if it is an id (not `common`, `organizations` or a
        /// domain name).
        tenant: Option<String>,
        /// Refuse personal Microsoft accounts (`organizations`).
        no_consumers: bool,
    },
}

impl IssuerRule {
    /// Whether an ID token's `iss` is the provider's, given its `tid` and `ver` claims.
    pub(crate) fn accepts(&self, iss: &str, tid: Option<&str>, ver: Option<&str>) -> bool {
        match self {
            Self::Exact(list) => list.iter().any(|i| i == iss),
            Self::Entra {
                tenant,
                no_consumers,
            } => entra::accepts_issuer(iss, tid, ver, tenant.as_deref(), *no_consumers),
        }
    }

    /// Whether a discovery document's `issuer` is the provider's (Entra publishes the
    /// template `{tenantid}` for multi-tenant endpoints, and its tenant id for a domain).
    pub(crate) fn accepts_discovered(&self, configured: &str, discovered: &str) -> bool {
        match self {
            Self::Exact(list) => discovered == configured || list.iter().any(|i| i == discovered),
            Self::Entra { .. } => entra::accepts_discovered(configured, discovered),
        }
    }
}

/// A block, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// How to talk to it.
    pub protocol: Protocol,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// Extra parameters of the authorization request (Auth0 `audience`, Google `hd`).
    pub authorize_params: Vec<(String, String)>,
    /// Claims that must hold one of the listed values (the block's, with the preset's added).
    pub required_claims: BTreeMap<String, Vec<String>>,
    /// The claim a preset names its users by, tried after the block's `username` claim.
    pub username_claim: Option<&'static str>,
}

impl Resolved {
    fn oidc(cfg: &UpstreamConfig, issuer: String, issuers: IssuerRule) -> Self {
        Self {
            protocol: Protocol::Oidc {
                issuer,
                issuers,
                authorization_endpoint: None,
                token_endpoint: None,
                revocation_endpoint: None,
            },
            scopes: cfg
                .scopes
                .clone()
                .unwrap_or_else(|| ["openid", "email", "profile"].map(str::to_owned).to_vec()),
            authorize_params: Vec::new(),
            required_claims: cfg.required_claims.clone(),
            username_claim: None,
        }
    }
}

impl Resolved {
    /// A provider known by exactly one issuer string.
    fn exact(cfg: &UpstreamConfig, issuer: String) -> Self {
        Self::oidc(cfg, issuer.clone(), IssuerRule::Exact(vec![issuer]))
    }
}

/// The issuer a block sets itself (any preset may, to point elsewhere), checked.
fn own_issuer(cfg: &UpstreamConfig) -> Option<String> {
    cfg.issuer.clone()
}

/// A required field of a preset.
fn required<'a>(value: &'a Option<String>, key: &str, preset: &str) -> Result<&'a str, String> {
    value
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| format!("the {preset} preset needs `{key}`"))
}

/// A host-name-like field (a domain, a region, a realm): nothing that changes a URL's shape.
fn plain(value: &str, key: &str) -> Result<(), String> {
    if value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        Ok(())
    } else {
        Err(format!(
            "`{key}` may hold only letters, digits, `.`, `-` and `_`"
        ))
    }
}

/// Understands a block. Errors name the missing or malformed field.
pub(crate) fn resolve(cfg: &UpstreamConfig) -> Result<Resolved, String> {
    match cfg.preset {
        Preset::Oidc => oidc::resolve(cfg),
        Preset::Github => github::resolve(cfg),
        Preset::Google => google::resolve(cfg),
        Preset::Entra => entra::resolve(cfg),
        Preset::Okta => okta::resolve(cfg),
        Preset::Auth0 => auth0::resolve(cfg),
        Preset::Keycloak => keycloak::resolve(cfg),
        Preset::Cognito => cognito::resolve(cfg),
    }
}

#[cfg(test)]
fn block(preset: Preset) -> UpstreamConfig {
    UpstreamConfig::new("t", preset, "client")
}
