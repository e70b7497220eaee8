//! Storage: one trait per aggregate, and backends that implement them all.
//!
//! Every method that changes more than one row (redeeming a code into a grant, rotating a refresh
//! token, revoking a family) is one atomic operation of its backend: one SQL transaction, or one
//! critical section in memory. Callers never compose a multi-step change out of several calls.
//!
//! Errors are [`StoreError`]: `Conflict` for a uniqueness violation the caller can report, and
//! `Backend` for everything else, which the HTTP layer turns into a logged `500`-free
//! `server_error` or `temporarily_unavailable`.

use crate::model::upstream::{UpstreamLink, UpstreamLogin, UpstreamTokens};
use crate::model::*;
use async_trait::async_trait;
use mcp_oauth_core::ScopeSet;
use mcp_oauth_core::clock::UnixTime;

pub mod memory;
mod open;
mod ops;
pub mod postgres;
pub(crate) mod rules;
mod sql;
pub mod sqlite;

#[cfg(any(test, feature = "contract-tests"))]
pub mod contract;

pub(crate) use open::create_private_dir;
pub use open::{Location, OpenError, SQLITE_FILE, open_url, redacted};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A record with the same unique key exists.
    #[error("already exists: {0}")]
    Conflict(String),
    /// The database failed; details are for the log only.
    #[error("storage backend error: {0}")]
    Backend(String),
}

/// Result alias.
pub type StoreResult<T> = Result<T, StoreError>;

/// Registered clients.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Inserts a new client; `Conflict` if the id exists.
    async fn insert_client(&self, client: &Client) -> StoreResult<()>;
    /// Replaces a client's record (same id); returns whether it existed.
    async fn update_client(&self, client: &Client) -> StoreResult<bool>;
    /// Looks a client up.
    async fn get_client(&self, client_id: &str) -> StoreResult<Option<Client>>;
    /// All clients, ordered by creation time.
    async fn list_clients(&self) -> StoreResult<Vec<Client>>;
    /// Deletes a client and everything issued to it (codes, grants, consents); returns whether it existed.
    async fn delete_client(&self, client_id: &str) -> StoreResult<bool>;
    /// Records that the client obtained a token at `now`.
    async fn touch_client(&self, client_id: &str, now: UnixTime) -> StoreResult<()>;
}

/// Protected resources.
#[async_trait]
pub trait ResourceStore: Send + Sync {
    /// Inserts or replaces a resource by URI.
    async fn upsert_resource(&self, resource: &Resource) -> StoreResult<()>;
    /// Looks a resource up by its exact URI.
    async fn get_resource(&self, uri: &str) -> StoreResult<Option<Resource>>;
    /// All resources, ordered by URI.
    async fn list_resources(&self) -> StoreResult<Vec<Resource>>;
    /// Deletes a resource; returns whether it existed.
    async fn delete_resource(&self, uri: &str) -> StoreResult<bool>;
}

/// Local user accounts.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts a user; `Conflict` if the username is taken.
    async fn insert_user(&self, user: &User) -> StoreResult<()>;
    /// Looks a user up by login name.
    async fn get_user_by_name(&self, username: &str) -> StoreResult<Option<User>>;
    /// Looks a user up by id.
    async fn get_user(&self, id: &str) -> StoreResult<Option<User>>;
    /// All users, ordered by username.
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    /// Sets a new password hash; returns whether the user exists.
    async fn set_password(&self, username: &str, password_hash: &str) -> StoreResult<bool>;
    /// Disables (`Some(time)`) or enables (`None`) a user; returns whether the user exists.
    async fn set_user_disabled(
        &self,
        username: &str,
        disabled_at: Option<UnixTime>,
    ) -> StoreResult<bool>;
    /// Replaces a user's roles (sorted, unique); returns whether the user exists.
    async fn set_roles(&self, username: &str, roles: &[String]) -> StoreResult<bool>;
    /// Deletes a user, their sessions, consents and grants (revoked); returns whether they existed.
    async fn delete_user(&self, username: &str) -> StoreResult<bool>;
}

/// Authorization codes, and the exchange of a code for a grant.
#[async_trait]
pub trait CodeStore: Send + Sync {
    /// Stores a freshly issued code.
    async fn insert_code(&self, code: &AuthorizationCode) -> StoreResult<()>;
    /// Atomically spends the code with hash `code_hash`:
    /// - unused and not expired: marks it used, records that it produced `grant.id`, stores
    ///   `grant` and its first refresh token `first_refresh` (if any) → `Redeemed(code)`.
    ///   The stored grant takes `user_id`, `resource`, `scope` and `auth_time` from the code
    ///   (the caller cannot know them before the code is read in the same transaction);
    /// - already used: revokes the grant it produced → `Replayed`;
    /// - unknown or expired → `NotFound`.
    ///
    /// The caller checks the code's bindings (client, redirect URI, PKCE, resource) on the
    /// returned record and revokes `grant.id` with [`GrantStore::revoke_grant`] if they fail, so a
    /// failed check also burns the code.
    async fn redeem_code(
        &self,
        code_hash: &str,
        now: UnixTime,
        grant: &Grant,
        first_refresh: Option<&RefreshToken>,
    ) -> StoreResult<RedeemOutcome>;
}

/// Grants (refresh-token families) and revocation state of access tokens.
#[async_trait]
pub trait GrantStore: Send + Sync {
    /// Stores a grant with no code behind it (client credentials do not use one).
    async fn insert_grant(
        &self,
        grant: &Grant,
        first_refresh: Option<&RefreshToken>,
    ) -> StoreResult<()>;
    /// Looks a grant up.
    async fn get_grant(&self, grant_id: &str) -> StoreResult<Option<Grant>>;
    /// Atomically rotates the refresh token with hash `presented_hash` to `successor`:
    /// see [`RotateOutcome`]. `grace` is how many seconds after a rotation a retry with the same
    /// presented token still gets the same successor (`successor.token_hash` must equal the one
    /// recorded). `grace = 0` disables the window. A retry after the successor was itself used, or
    /// after the grace window, is reuse
    /// and revokes the family.
    async fn rotate_refresh(
        &self,
        presented_hash: &str,
        successor: &RefreshToken,
        now: UnixTime,
        grace: i64,
    ) -> StoreResult<RotateOutcome>;
    /// Finds the refresh token with this hash and its grant (for introspection and revocation).
    async fn get_refresh(&self, token_hash: &str) -> StoreResult<Option<(RefreshToken, Grant)>>;
    /// Revokes a grant (family): all its refresh tokens and the access tokens that carry its id.
    /// Returns whether it was active.
    async fn revoke_grant(&self, grant_id: &str, now: UnixTime) -> StoreResult<bool>;
    /// Records a revoked access token id until `expires_at` (after which it is dead anyway).
    async fn revoke_access_token(&self, jti: &str, expires_at: UnixTime) -> StoreResult<()>;
    /// Whether an access token id was revoked.
    async fn is_access_token_revoked(&self, jti: &str) -> StoreResult<bool>;
    /// Grants of a user (for the connected-apps page and user removal).
    async fn list_grants_for_user(&self, user_id: &str) -> StoreResult<Vec<Grant>>;
    /// Deletes expired codes, refresh tokens, grants past their absolute expiry, revoked
    /// token ids past their expiry, expired initial access tokens and client assertion ids past
    /// their expiry. Returns how many rows went.
    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64>;
}

/// Remembered consents.
#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// The consent of a user for a client and resource.
    async fn get_consent(
        &self,
        user_id: &str,
        client_id: &str,
        resource: &str,
    ) -> StoreResult<Option<Consent>>;
    /// Adds `scope` to the remembered consent (union with what was there).
    async fn add_consent(
        &self,
        user_id: &str,
        client_id: &str,
        resource: &str,
        scope: &ScopeSet,
        now: UnixTime,
    ) -> StoreResult<()>;
    /// Forgets a user's consents for a client (all resources); returns how many went.
    async fn revoke_consent(&self, user_id: &str, client_id: &str) -> StoreResult<u64>;
    /// A user's consents.
    async fn list_consents(&self, user_id: &str) -> StoreResult<Vec<Consent>>;
}

/// Signing keys.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Stores a new key; `Conflict` if the kid exists.
    async fn insert_key(&self, key: &StoredKey) -> StoreResult<()>;
    /// All keys, oldest first.
    async fn list_keys(&self) -> StoreResult<Vec<StoredKey>>;
    /// Sets when a key stops signing; returns whether it exists.
    async fn retire_key(&self, kid: &str, retires_at: UnixTime) -> StoreResult<bool>;
    /// Deletes a key (once no token it signed can still be valid); returns whether it existed.
    async fn delete_key(&self, kid: &str) -> StoreResult<bool>;
}

/// Browser sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a session.
    async fn insert_session(&self, session: &Session) -> StoreResult<()>;
    /// Looks a session up by the hash of its id; expired sessions are not returned.
    async fn get_session(&self, id_hash: &str, now: UnixTime) -> StoreResult<Option<Session>>;
    /// Deletes a session.
    async fn delete_session(&self, id_hash: &str) -> StoreResult<()>;
    /// Deletes expired sessions; returns how many went.
    async fn purge_sessions(&self, now: UnixTime) -> StoreResult<u64>;
    /// A user's live sessions, oldest first (the console's "my sessions").
    async fn list_user_sessions(&self, user_id: &str, now: UnixTime) -> StoreResult<Vec<Session>>;
    /// Deletes every session of a user but the one with hash `keep` (signing out of the other
    /// browsers); returns how many went.
    async fn delete_user_sessions(&self, user_id: &str, keep: Option<&str>) -> StoreResult<u64>;
}

/// Dynamic registration: initial access tokens, and the purge of registrations never used.
#[async_trait]
pub trait RegistrationStore: Send + Sync {
    /// Stores an initial access token; `Conflict` if its id or hash exists.
    async fn insert_registration_token(&self, token: &RegistrationToken) -> StoreResult<()>;
    /// The unexpired initial access token with this hash, if any.
    async fn find_registration_token(
        &self,
        token_hash: &str,
        now: UnixTime,
    ) -> StoreResult<Option<RegistrationToken>>;
    /// All initial access tokens (expired ones too, until purged), ordered by creation time.
    async fn list_registration_tokens(&self) -> StoreResult<Vec<RegistrationToken>>;
    /// Deletes (revokes) an initial access token by id; returns whether it existed.
    async fn delete_registration_token(&self, id: &str) -> StoreResult<bool>;
    /// Deletes every dynamically registered client ([`ClientOrigin::Dcr`]) that never obtained a
    /// token (`last_used_at` unset) and was created at or before `created_before`, with whatever
    /// hangs off it (codes, grants, consents), in one atomic step. Returns how many clients went.
    async fn purge_unused_registrations(&self, created_before: UnixTime) -> StoreResult<u64>;
}

/// Client assertion ids already used (RFC 7523 §3: a `jti` is single-use until its `exp`).
/// Kept in the database, so a restart does not reopen the replay window.
#[async_trait]
pub trait AssertionStore: Send + Sync {
    /// Records that `client_id` used the assertion `jti`, which expires at `expires_at`.
    /// Returns `true` the first time, and `false` while the pair is recorded with an expiry after
    /// `now` (a replay). A record that expired (and was not yet purged) is replaced. Atomic: of
    /// concurrent calls with the same pair, exactly one gets `true`.
    async fn use_jti(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> StoreResult<bool>;
}

/// The audit trail of security events (see [`crate::audit`]). Append-only, apart from the purge
/// of entries older than the retention.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an event (its `id` is ignored; the store assigns an increasing one).
    async fn append_audit(&self, event: &crate::model::audit::AuditEvent) -> StoreResult<()>;
    /// Events matching `filter`, newest first (by time, then id).
    async fn list_audit(
        &self,
        filter: &crate::model::audit::AuditFilter,
    ) -> StoreResult<Vec<crate::model::audit::AuditEvent>>;
    /// Deletes events older than `before`; returns how many went.
    async fn purge_audit(&self, before: UnixTime) -> StoreResult<u64>;
}

/// The scheduled key rotation, safe with several instances on one database.
#[async_trait]
pub trait KeyRotationStore: Send + Sync {
    /// In one atomic step: unless some key was created after `created_after`, stores `key` and
    /// retires every other key still signing at `key.activates_at`. Returns whether it did. Of
    /// instances racing to rotate, exactly one succeeds; the others see its key.
    async fn insert_key_if_none_since(
        &self,
        key: &StoredKey,
        created_after: UnixTime,
    ) -> StoreResult<bool>;
}

/// Federated login: sign-ins in flight at an upstream, the links of upstream accounts to
/// users, and the upstream tokens kept for token exchange (see [`crate::model::upstream`]).
#[async_trait]
pub trait UpstreamStore: Send + Sync {
    /// Stores a sign-in sent upstream; `Conflict` if its state hash exists.
    async fn insert_upstream_login(&self, login: &UpstreamLogin) -> StoreResult<()>;
    /// Consumes the sign-in with this state hash: deletes it and returns it if it had not
    /// expired at `now`. Atomic: of concurrent calls (on any instance), at most one gets it.
    async fn take_upstream_login(
        &self,
        state_hash: &str,
        now: UnixTime,
    ) -> StoreResult<Option<UpstreamLogin>>;
    /// Deletes sign-ins that expired before `now`; returns how many went.
    async fn purge_upstream_logins(&self, now: UnixTime) -> StoreResult<u64>;
    /// The link of an upstream account.
    async fn get_upstream_link(
        &self,
        upstream_id: &str,
        subject: &str,
    ) -> StoreResult<Option<UpstreamLink>>;
    /// Links whose e-mail is `email` and was verified, ordered by creation time.
    async fn find_verified_links(&self, email: &str) -> StoreResult<Vec<UpstreamLink>>;
    /// In one atomic step, a new user and its first link; `Conflict` (and nothing stored) if the
    /// username or the link exists.
    async fn create_upstream_user(&self, user: &User, link: &UpstreamLink) -> StoreResult<()>;
    /// Links an upstream account to an existing user; `Conflict` if the link exists, and
    /// `Backend` if the user does not.
    async fn insert_upstream_link(&self, link: &UpstreamLink) -> StoreResult<()>;
    /// Every link, by user id, then upstream and subject.
    async fn list_upstream_links(&self) -> StoreResult<Vec<UpstreamLink>>;
    /// The links of one user, by upstream and subject.
    async fn user_upstream_links(&self, user_id: &str) -> StoreResult<Vec<UpstreamLink>>;
    /// Keeps upstream tokens with the code they came with (replacing any of that code). At
    /// redemption, [`CodeStore::redeem_code`] moves them to the grant in the same step.
    async fn put_upstream_tokens(&self, tokens: &UpstreamTokens) -> StoreResult<()>;
    /// The upstream tokens of a live grant.
    async fn get_grant_upstream_tokens(
        &self,
        grant_id: &str,
    ) -> StoreResult<Option<UpstreamTokens>>;
    /// Replaces the sealed tokens of a grant after a refresh; returns whether they existed.
    async fn update_grant_upstream_tokens(&self, tokens: &UpstreamTokens) -> StoreResult<bool>;
    /// Takes up to `limit` kept tokens that were deleted (with their grant, code, client or
    /// user: every deletion queues them first, in its own transaction) and are still to be
    /// revoked at their provider; a row taken is gone for every other caller. Only `code_hash`,
    /// `upstream_id` and `sealed` are meaningful.
    async fn take_upstream_revocations(&self, limit: u32) -> StoreResult<Vec<UpstreamTokens>>;
    /// Claims the lease to refresh the upstream tokens of a live grant until `until`: `true`
    /// for exactly one caller while no unexpired lease (`> now`) is held, across instances.
    async fn claim_upstream_refresh(
        &self,
        grant_id: &str,
        now: UnixTime,
        until: UnixTime,
    ) -> StoreResult<bool>;
    /// Gives the lease of a grant back (after the refresh, whether or not it worked).
    async fn release_upstream_refresh(&self, grant_id: &str) -> StoreResult<()>;
}

/// Liveness of the storage itself (for `/readyz`).
#[async_trait]
pub trait HealthStore: Send + Sync {
    /// Checks that the database answers (`SELECT 1` on a pooled connection); `Ok` for a store
    /// with nothing that can fail.
    async fn ping(&self) -> StoreResult<()>;

    /// Connections of the database pool (open, idle), for the `/metrics` gauges; `None` for a
    /// store without a pool.
    fn pool_stats(&self) -> Option<(u32, u32)> {
        None
    }
}

/// API keys (see [`crate::api_keys`]): looked up by the keyed hash of the key, never by the key.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Stores a new key; `Conflict` if its id or hash exists.
    async fn insert_api_key(&self, key: &ApiKey) -> StoreResult<()>;
    /// The key with this hash, whatever its state (the caller checks revocation and expiry).
    async fn find_api_key(&self, key_hash: &str) -> StoreResult<Option<ApiKey>>;
    /// The key with this id.
    async fn get_api_key(&self, id: &str) -> StoreResult<Option<ApiKey>>;
    /// Keys of one user (`Some`), or every key (`None`), ordered by creation time, then id.
    async fn list_api_keys(&self, user_id: Option<&str>) -> StoreResult<Vec<ApiKey>>;
    /// Revokes a key at `now`; returns whether it existed and was not revoked yet.
    async fn revoke_api_key(&self, id: &str, now: UnixTime) -> StoreResult<bool>;
    /// Records that the key was accepted at `now`.
    async fn touch_api_key(&self, id: &str, now: UnixTime) -> StoreResult<()>;
}

/// Device authorizations (RFC 8628, see [`crate::model::device`]): found by the hash of a code,
/// never by the code.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Stores a new authorization; `Conflict` if its device code hash or its user code hash is
    /// taken (the caller draws another user code).
    async fn insert_device_authorization(
        &self,
        authorization: &DeviceAuthorization,
    ) -> StoreResult<()>;
    /// The authorization with this user code hash, unless it expired at `now` (any status: the
    /// caller shows only pending ones).
    async fn find_device_authorization(
        &self,
        user_code_hash: &str,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorization>>;
    /// Records the user's decision on the pending, unexpired authorization with this user code
    /// hash; returns whether there was one. Atomic: of concurrent decisions, one wins.
    async fn decide_device_authorization(
        &self,
        user_code_hash: &str,
        now: UnixTime,
        decision: &DeviceDecision,
    ) -> StoreResult<bool>;
    /// One poll of the device code with this hash by `client_id`, by the rule
    /// `rules::decide_poll`, in one atomic step: records the poll (and a longer interval on
    /// `slow_down`); an approved authorization becomes `grant` (user, resource, scope and
    /// authentication time from the record) with its first refresh token, and the record is
    /// deleted, so that of concurrent polls exactly one gets `Redeemed`; a denied one is deleted
    /// as it is reported.
    async fn poll_device_authorization(
        &self,
        device_code_hash: &str,
        client_id: &str,
        now: UnixTime,
        grant: &Grant,
        first_refresh: Option<&RefreshToken>,
    ) -> StoreResult<DevicePoll>;
}

/// Declares `Store` as the sum of the aggregate traits and implements it for every type that has
/// them all, so the list of aggregates is written once: a new aggregate trait is one more name
/// here, and a backend that lacks it is not a `Store`.
macro_rules! store_of {
    ($(#[$attr:meta])* pub trait $name:ident: $($aggregate:ident),+ $(,)?) => {
        $(#[$attr])*
        pub trait $name: $($aggregate +)+ Send + Sync + 'static {}

        impl<T> $name for T where T: $($aggregate +)+ Send + Sync + 'static {}
    };
}

store_of! {
    /// Everything the server needs from storage.
    pub trait Store:
        ClientStore,
        ResourceStore,
        UserStore,
        CodeStore,
        GrantStore,
        ConsentStore,
        KeyStore,
        SessionStore,
        RegistrationStore,
        AssertionStore,
        AuditStore,
        KeyRotationStore,
        UpstreamStore,
        HealthStore,
        ApiKeyStore,
        DeviceStore,
}
