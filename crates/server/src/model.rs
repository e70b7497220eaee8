//! The authorization server's domain records, as the stores keep them.
//!
//! Secrets never appear here in the clear: client secrets, codes, refresh tokens, session ids and
//! registration access tokens are stored as `sha256_b64url` hashes of 256-bit random values;
//! passwords as Argon2id PHC strings; private keys encrypted under the key-encryption key.

pub mod api_key;
pub mod audit;
pub mod device;
pub mod upstream;

pub use api_key::ApiKey;
pub use device::{DeviceAuthorization, DeviceDecision, DevicePoll, DeviceStatus};

use mcp_oauth_core::ScopeSet;
use mcp_oauth_core::clock::UnixTime;
use serde::{Deserialize, Serialize};

/// How a client came to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientOrigin {
    /// Added by an administrator (`mcp-oauth clients add`).
    Admin,
    /// Registered through RFC 7591 dynamic registration.
    Dcr,
    /// A Client ID Metadata Document (the client id is its URL).
    Cimd,
}

impl ClientOrigin {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Dcr => "dcr",
            Self::Cimd => "cimd",
        }
    }
    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "dcr" => Some(Self::Dcr),
            "cimd" => Some(Self::Cimd),
            _ => None,
        }
    }
}

/// A registered OAuth client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Client {
    /// The client identifier.
    pub client_id: String,
    /// Display name, shown on the consent page.
    pub client_name: String,
    /// `none`, `client_secret_basic`, `client_secret_post` or `private_key_jwt`.
    pub token_endpoint_auth_method: String,
    /// SHA-256 (base64url) of the client secret; `None` for public and JWT clients.
    pub secret_hash: Option<String>,
    /// When the secret stops working (0 or `None`: never).
    pub secret_expires_at: Option<UnixTime>,
    /// Registered redirect URIs (exact match; loopback any port).
    pub redirect_uris: Vec<String>,
    /// Allowed grant types.
    pub grant_types: Vec<String>,
    /// Scopes this client may be granted; `None` means any scope of the resource.
    pub allowed_scopes: Option<ScopeSet>,
    /// The client's public keys (JWK Set), for `private_key_jwt`.
    pub jwks: Option<serde_json::Value>,
    /// Where to fetch the client's public keys, for `private_key_jwt`.
    pub jwks_uri: Option<String>,
    /// How the client was created.
    pub origin: ClientOrigin,
    /// SHA-256 of the RFC 7592 registration access token, for DCR clients.
    pub registration_token_hash: Option<String>,
    /// The full client metadata as registered (RFC 7591 fields), for RFC 7592 reads.
    pub metadata: serde_json::Value,
    /// Creation time.
    pub created_at: UnixTime,
    /// Last time the client obtained a token.
    pub last_used_at: Option<UnixTime>,
    /// The resources this client serves as a resource server, whose tokens it may introspect
    /// (RFC 7662 §2.1 lets the server decide who may). Empty: introspection is refused. Only an
    /// administrator sets it; dynamic registrations and metadata documents never can.
    #[serde(default)]
    pub introspect_resources: Vec<String>,
    /// When an administrator disabled the client: it cannot sign in, get or refresh tokens, and
    /// its access tokens are refused where they are checked with this server. `None`: enabled.
    #[serde(default)]
    pub disabled_at: Option<UnixTime>,
    /// The secret before the last rotation with an overlap window (its SHA-256, base64url):
    /// accepted as well until [`Client::previous_secret_until`], so that a deployment can switch
    /// to the new secret without an outage.
    #[serde(default)]
    pub previous_secret_hash: Option<String>,
    /// When the previous secret stops working.
    #[serde(default)]
    pub previous_secret_until: Option<UnixTime>,
}

impl Client {
    /// Whether the client authenticates with something (secret or key) at the token endpoint.
    pub fn is_confidential(&self) -> bool {
        self.token_endpoint_auth_method != mcp_oauth_core::token::auth_method::NONE
    }
    /// Whether the client may use `grant_type`.
    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }
}

/// A scope a resource offers, with the text the consent page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeDef {
    /// The scope token.
    pub name: String,
    /// A human description ("Use tools").
    pub description: String,
    /// A restricted scope: only users holding one of these roles may approve it. Empty: any
    /// user may.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

impl ScopeDef {
    /// Whether a user holding `user_roles` may approve this scope.
    pub fn grantable_to(&self, user_roles: &[String]) -> bool {
        self.roles.is_empty() || self.roles.iter().any(|r| user_roles.contains(r))
    }
}

/// A protected resource (an MCP server) tokens may be issued for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// The canonical resource URI, exactly as it goes into `aud`.
    pub uri: String,
    /// Display name.
    pub name: String,
    /// The scopes it offers.
    pub scopes: Vec<ScopeDef>,
    /// Creation time.
    pub created_at: UnixTime,
}

impl Resource {
    /// The resource's scopes as a set.
    pub fn scope_set(&self) -> ScopeSet {
        self.scopes.iter().map(|s| s.name.clone()).collect()
    }
}

/// A local user account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Stable identifier, the `sub` of tokens.
    pub id: String,
    /// Login name (unique).
    pub username: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Creation time.
    pub created_at: UnixTime,
    /// Roles (`admin`, …), sorted and unique: a restricted scope is granted only to users
    /// holding one of the roles the resource names for it.
    #[serde(default)]
    pub roles: Vec<String>,
    /// When an administrator disabled the account: it cannot sign in, its grants cannot be
    /// refreshed and its tokens are refused where they are checked with this server.
    #[serde(default)]
    pub disabled_at: Option<UnixTime>,
}

/// An issued authorization code, bound to everything RFC 6749 and RFC 7636 require.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationCode {
    /// SHA-256 of the code.
    pub code_hash: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI used in the authorization request (must be repeated exactly).
    pub redirect_uri: String,
    /// The S256 code challenge.
    pub code_challenge: String,
    /// The resource (RFC 8707) the grant is for.
    pub resource: String,
    /// Granted scopes.
    pub scope: ScopeSet,
    /// The user who authorized.
    pub user_id: String,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// Issue time.
    pub created_at: UnixTime,
    /// Expiry (60 s after issue by default).
    pub expires_at: UnixTime,
}

/// A grant: the family of refresh tokens and access tokens that came from one authorization.
/// Revoking it revokes them all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Random identifier, carried in access tokens as the `gid` claim.
    pub id: String,
    /// The client.
    pub client_id: String,
    /// The user, when a user authorized.
    pub user_id: Option<String>,
    /// The resource.
    pub resource: String,
    /// Granted scopes.
    pub scope: ScopeSet,
    /// When the user authenticated.
    pub auth_time: Option<UnixTime>,
    /// Creation time.
    pub created_at: UnixTime,
    /// When the family expires as a whole (absolute refresh lifetime).
    pub expires_at: UnixTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<UnixTime>,
}

/// One refresh token of a family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshToken {
    /// SHA-256 of the token.
    pub token_hash: String,
    /// The family.
    pub grant_id: String,
    /// Issue time.
    pub created_at: UnixTime,
    /// Expiry (idle lifetime).
    pub expires_at: UnixTime,
    /// When it was exchanged for its successor.
    pub rotated_at: Option<UnixTime>,
    /// SHA-256 of the successor.
    pub successor_hash: Option<String>,
}

/// What happened when a code was presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedeemOutcome {
    /// First use: the code is now spent and `grant` with its first refresh token were stored.
    Redeemed(AuthorizationCode),
    /// The code was already used; the grant it produced (if any) has now been revoked.
    Replayed {
        /// The grant revoked because of the replay.
        revoked_grant: Option<String>,
    },
    /// No such code (or already purged).
    NotFound,
}

/// What happened when a refresh token was presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The token was current: it is now rotated to the successor.
    Rotated(Grant),
    /// The token was rotated moments ago to exactly this successor, which is still unused:
    /// a retried request whose response was lost. The same successor is handed out again.
    GraceRetry(Grant),
    /// The token was already rotated: reuse. The whole family is now revoked.
    Reused {
        /// The revoked family.
        grant_id: String,
    },
    /// Unknown, expired, or its family revoked or expired.
    Invalid,
    /// The family's user is disabled (or gone): nothing changed, so the token refreshes again
    /// once the account is enabled.
    AccountDisabled,
}

/// A user's remembered consent for a client and resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// The user.
    pub user_id: String,
    /// The client.
    pub client_id: String,
    /// The resource.
    pub resource: String,
    /// Every scope consented so far.
    pub scope: ScopeSet,
    /// Last update.
    pub updated_at: UnixTime,
}

/// A persisted signing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKey {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// JOSE algorithm name.
    pub alg: String,
    /// PKCS#8 DER encrypted with the key-encryption key (nonce || ciphertext || tag).
    pub encrypted_private_key: Vec<u8>,
    /// Public JWK as JSON.
    pub public_jwk: serde_json::Value,
    /// Creation time (published in the JWKS from then on).
    pub created_at: UnixTime,
    /// When it starts signing (at or after creation: pre-publication).
    pub activates_at: UnixTime,
    /// When it stops signing, once rotated out.
    pub retires_at: Option<UnixTime>,
}

/// Lifetime of a session that has not logged in yet, in seconds: long enough to type a password,
/// short enough that a flood of `/authorize` visits does not pile up rows for a working day. A
/// pushed authorization request carried by the sign-in forms lives as long (`par::SIGN_IN_WINDOW`).
pub const ANONYMOUS_SESSION_TTL: i64 = 1800;

/// A browser session (the cookie holds the id; the store holds its hash). It exists before login
/// too, so that the login form has a CSRF token bound to something; logging in replaces it with a
/// new session (a new id), which defeats session fixation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// SHA-256 of the session id.
    pub id_hash: String,
    /// The logged-in user, once logged in.
    pub user_id: Option<String>,
    /// The CSRF token bound to this session.
    pub csrf_token: String,
    /// When the user authenticated.
    pub auth_time: Option<UnixTime>,
    /// Creation time.
    pub created_at: UnixTime,
    /// Expiry.
    pub expires_at: UnixTime,
}

/// An initial access token (RFC 7591 §3): under the `token` registration policy, a registrant
/// presents one as a bearer token to `/register`. Created by an administrator
/// (`mcp-oauth registration-tokens add`), shown once, stored only as a hash, valid until revoked
/// or expired, and usable for any number of registrations (one per CI pipeline or team, say).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationToken {
    /// Random identifier, for listing and revoking (not secret).
    pub id: String,
    /// SHA-256 (base64url) of the token.
    pub token_hash: String,
    /// What it is for, as the administrator described it.
    pub label: String,
    /// Creation time.
    pub created_at: UnixTime,
    /// When it stops working; `None`: when revoked.
    pub expires_at: Option<UnixTime>,
}
