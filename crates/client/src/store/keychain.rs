//! Tokens and registrations in the OS keychain (feature `keychain`).
//!
//! The platform store keeps the values encrypted at rest and per user: the Secret Service on
//! Linux and the BSDs (gnome-keyring, KeePassXC, KWallet; spoken to over D-Bus by pure-Rust zbus),
//! Keychain Services on macOS, the Credential Manager on Windows. Every entry has the service
//! name [`DEFAULT_SERVICE`] (`mcp-oauth`) and one of these user names:
//!
//! - `token:<digest>`: a [`TokenKey`] with its [`StoredToken`] as JSON, where `<digest>` is
//!   [`TokenKey::digest`];
//! - `registration:<digest>`: a [`StoredRegistration`] as JSON, the digest being of its issuer;
//! - `index`: the digests of every token and registration entry.
//!
//! Keychains cannot be listed portably, so the index is what `status`, `tokens_for_server` and
//! `all_tokens` enumerate. It holds digests only (small enough for Windows' 2560-byte limit on a
//! credential) and each entry carries its own key, so there is one source of truth. Every
//! read-modify-write of the index happens under a lock file in the config directory (the same
//! [`FileLock`] the file store uses), and the index is read again after the lock is taken, so two
//! processes cannot lose each other's updates. A crash between writing an entry and the index
//! leaves at worst an entry that is not listed (overwritten by the next login) or a listed entry
//! that is gone (skipped when listing).
//!
//! On Windows a credential holds at most 2560 bytes: a token entry larger than that (long JWTs with
//! a refresh token) is refused with a clear error, and `--store file` is the way out.
//!
//! Keychain calls block (D-Bus round trips, and a locked keychain may show an unlock prompt), so
//! each one runs on a thread of its own and is given up after a timeout with a clear error. A
//! detached thread rather than `spawn_blocking`: a call stuck behind a prompt nobody can see must
//! not keep the runtime, and so the command, from exiting.

use super::lock::FileLock;
use super::{CredentialStore, StoreLock, StoredRegistration, StoredToken, TokenEntry, TokenKey};
use crate::error::{Error, Result};
use keyring_core::api::CredentialStore as Backend;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use zeroize::Zeroizing;

/// The keychain service name of every entry.
pub const DEFAULT_SERVICE: &str = "mcp-oauth";

/// The index format version written.
const VERSION: u32 = 1;
/// The user name of the index entry.
const INDEX_USER: &str = "index";

/// What the connected platform store is shared as between a store's clones and its threads.
type Connection = Arc<Mutex<Option<Arc<Backend>>>>;

/// Credentials in the OS keychain; the index lock files live in `lock_dir`.
#[derive(Clone)]
pub struct KeychainStore {
    service: String,
    lock_dir: PathBuf,
    timeout: Duration,
    lock_wait: Duration,
    stale_after: Duration,
    /// Connected on first use (and again after a failure), so building a store never blocks.
    connection: Connection,
}

impl fmt::Debug for KeychainStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeychainStore")
            .field("service", &self.service)
            .field("lock_dir", &self.lock_dir)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The index entry: digests of the token and registration entries.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    #[serde(default)]
    version: u32,
    #[serde(default)]
    tokens: Vec<String>,
    #[serde(default)]
    registrations: Vec<String>,
}

impl Index {
    fn add(list: &mut Vec<String>, digest: String) {
        if !list.contains(&digest) {
            list.push(digest);
            list.sort();
        }
    }
}

impl KeychainStore {
    /// A store under the service name `mcp-oauth`, with its lock files in `lock_dir` (created on
    /// first use, mode 0700 on Unix). Nothing is contacted until the first call.
    pub fn new(lock_dir: impl Into<PathBuf>) -> Self {
        Self {
            service: DEFAULT_SERVICE.to_owned(),
            lock_dir: lock_dir.into(),
            timeout: Duration::from_secs(30),
            lock_wait: Duration::from_secs(120),
            stale_after: Duration::from_secs(90),
            connection: Arc::new(Mutex::new(None)),
        }
    }

    /// The default lock directory: the directory of [`super::FileStore::default_path`]
    /// (`$XDG_CONFIG_HOME/mcp-oauth`, `~/.config/mcp-oauth` or `%APPDATA%\mcp-oauth`).
    pub fn default_lock_dir() -> Result<PathBuf> {
        let file = super::FileStore::default_path()?;
        Ok(file.parent().map(Path::to_path_buf).unwrap_or_default())
    }

    /// Another service name (to keep several independent stores in one keychain).
    pub fn with_service(mut self, service: impl Into<String>) -> Self {
        self.service = service.into();
        self
    }

    /// How long one keychain call may take (default 30 s) before it is given up: a locked
    /// keychain may wait for an unlock prompt that nobody can see.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long to wait for another process's lock (default 120 s), and after how long a lock
    /// file is considered abandoned (default 90 s; must exceed the keychain timeout plus the
    /// longest refresh request).
    pub fn with_lock_timeouts(mut self, wait: Duration, stale_after: Duration) -> Self {
        self.lock_wait = wait;
        self.stale_after = stale_after;
        self
    }

    /// The keychain service name.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Connects now rather than at the first call, to report an unusable keychain early.
    pub async fn check(&self) -> Result<()> {
        self.run("connecting", |_| Ok(())).await
    }

    fn lock_path(&self, suffix: &str) -> PathBuf {
        let service: String = self
            .service
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.lock_dir.join(format!("keychain-{service}{suffix}"))
    }

    fn ensure_lock_dir(&self) -> Result<()> {
        if self.lock_dir.as_os_str().is_empty() || self.lock_dir.exists() {
            return Ok(());
        }
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(&self.lock_dir)
            .map_err(|e| Error::store(Some(&self.lock_dir), format!("creating directory: {e}")))
    }

    /// Takes the lock that guards read-modify-writes of the index.
    async fn index_lock(&self) -> Result<FileLock> {
        self.ensure_lock_dir()?;
        FileLock::acquire(&self.lock_path(".lock"), self.lock_wait, self.stale_after).await
    }

    /// Runs `f` against the connected keychain on a thread of its own, for at most the timeout.
    async fn run<T, F>(&self, what: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Entries) -> Result<T> + Send + 'static,
    {
        let connection = Arc::clone(&self.connection);
        let service = self.service.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("mcp-oauth-keychain".into())
            .spawn(move || {
                let result = connect(&connection).and_then(|backend| {
                    f(&Entries {
                        backend: &backend,
                        service: &service,
                        what,
                    })
                });
                let _ = tx.send(result);
            })
            .map_err(|e| Error::Keychain(format!("cannot start a thread for the keychain: {e}")))?;
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Error::Keychain(format!(
                "the keychain call {what} ended without an answer"
            ))),
            Err(_) => {
                tracing::warn!(target: "mcp_oauth::client", service = %self.service, what,
                    "keychain call timed out");
                Err(Error::Keychain(format!(
                    "no answer from the keychain within {} s while {what}: it may be locked and \
                     waiting for an unlock prompt that nobody can see; unlock it (e.g. \
                     `gnome-keyring-daemon --unlock`), or use --store file",
                    self.timeout.as_secs()
                )))
            }
        }
    }
}

/// The platform store, connected once per [`KeychainStore`] (and again after a failure).
fn connect(connection: &Mutex<Option<Arc<Backend>>>) -> Result<Arc<Backend>> {
    let mut slot = connection.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(backend) = slot.as_ref() {
        return Ok(Arc::clone(backend));
    }
    let backend = platform_store()?;
    *slot = Some(Arc::clone(&backend));
    Ok(backend)
}

#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
fn platform_store() -> Result<Arc<Backend>> {
    match zbus_secret_service_keyring_store::Store::new() {
        Ok(store) => Ok(store),
        Err(e) => Err(no_secret_service(&e)),
    }
}

#[cfg(target_os = "macos")]
fn platform_store() -> Result<Arc<Backend>> {
    match apple_native_keyring_store::keychain::Store::new() {
        Ok(store) => Ok(store),
        Err(e) => Err(map_error(e, "opening the macOS keychain")),
    }
}

#[cfg(target_os = "windows")]
fn platform_store() -> Result<Arc<Backend>> {
    match windows_native_keyring_store::Store::new() {
        Ok(store) => Ok(store),
        Err(e) => Err(map_error(e, "opening the Windows Credential Manager")),
    }
}

#[cfg(not(any(
    all(
        unix,
        not(any(target_os = "macos", target_os = "ios", target_os = "android"))
    ),
    target_os = "macos",
    target_os = "windows"
)))]
fn platform_store() -> Result<Arc<Backend>> {
    Err(Error::Keychain(
        "this platform has no supported keychain; use --store file".into(),
    ))
}

/// The error for a session bus without a Secret Service (or no session bus at all).
fn no_secret_service(e: &dyn fmt::Display) -> Error {
    Error::Keychain(format!(
        "no Secret Service on the session bus ({e}): is a keyring daemon running \
         (gnome-keyring, KeePassXC, KWallet) and DBUS_SESSION_BUS_ADDRESS set? or use --store file"
    ))
}

/// A keyring error as ours, without ever formatting a stored value (some variants carry one).
fn map_error(e: keyring_core::Error, what: &str) -> Error {
    use keyring_core::Error as K;
    match e {
        K::NoStorageAccess(p) => Error::Keychain(format!(
            "the keychain refused access while {what} ({p}): it is probably locked; unlock it \
             (e.g. `gnome-keyring-daemon --unlock`), or use --store file"
        )),
        K::PlatformFailure(p) => {
            let detail = p.to_string();
            if [
                "ServiceUnknown",
                "NameHasNoOwner",
                "org.freedesktop.secrets",
            ]
            .iter()
            .any(|s| detail.contains(s))
            {
                no_secret_service(&detail)
            } else {
                Error::Keychain(format!("keychain failure while {what}: {detail}"))
            }
        }
        K::BadEncoding(_) | K::BadDataFormat(..) => Error::Keychain(format!(
            "a keychain entry read while {what} is not in the expected format"
        )),
        K::TooLong(name, limit) => Error::Keychain(format!(
            "too long for this keychain while {what}: {name} is limited to {limit}; use --store file"
        )),
        K::Ambiguous(found) => Error::Keychain(format!(
            "{} keychain entries match while {what}; delete the duplicates",
            found.len()
        )),
        other => Error::Keychain(format!("{what}: {other}")),
    }
}

/// The entries of one service, used on a keychain thread.
struct Entries<'a> {
    backend: &'a Arc<Backend>,
    service: &'a str,
    what: &'static str,
}

impl Entries<'_> {
    fn entry(&self, user: &str) -> Result<keyring_core::Entry> {
        self.backend
            .build(self.service, user, None)
            .map_err(|e| map_error(e, self.what))
    }

    /// The JSON value of entry `user`, `None` if there is none.
    fn read<T: DeserializeOwned>(&self, user: &str) -> Result<Option<T>> {
        let bytes = match self.entry(user)?.get_secret() {
            Ok(b) => Zeroizing::new(b),
            Err(keyring_core::Error::NoEntry) => return Ok(None),
            Err(e) => return Err(map_error(e, self.what)),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            Error::Keychain(format!(
                "the keychain entry {user} of service {} is not valid ({e}); delete it to start afresh",
                self.service
            ))
        })
    }

    fn write<T: Serialize>(&self, user: &str, value: &T) -> Result<()> {
        let bytes = Zeroizing::new(
            serde_json::to_vec(value)
                .map_err(|e| Error::Keychain(format!("serializing {user}: {e}")))?,
        );
        self.entry(user)?
            .set_secret(&bytes)
            .map_err(|e| map_error(e, self.what))
    }

    fn delete(&self, user: &str) -> Result<()> {
        match self.entry(user)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_error(e, self.what)),
        }
    }

    fn index(&self) -> Result<Index> {
        Ok(self.read(INDEX_USER)?.unwrap_or_default())
    }

    fn write_index(&self, index: &mut Index) -> Result<()> {
        index.version = VERSION;
        self.write(INDEX_USER, index)
    }

    /// Every token listed in the index that still exists.
    fn tokens(&self) -> Result<Vec<(TokenKey, StoredToken)>> {
        let mut out = Vec::new();
        for digest in self.index()?.tokens {
            match self.read::<TokenEntry>(&token_user(&digest))? {
                Some(e) if e.key.digest() == digest => out.push((e.key, e.token)),
                _ => {
                    tracing::debug!(target: "mcp_oauth::client", digest, "indexed keychain token is gone")
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

fn token_user(digest: &str) -> String {
    format!("token:{digest}")
}

/// The digest of an issuer, as in [`TokenKey::digest`].
fn issuer_digest(issuer: &str) -> String {
    mcp_oauth_core::secret::sha256_b64url(issuer.as_bytes())
        .chars()
        .take(22)
        .collect()
}

fn registration_user(digest: &str) -> String {
    format!("registration:{digest}")
}

#[async_trait::async_trait]
impl CredentialStore for KeychainStore {
    async fn get_token(&self, key: &TokenKey) -> Result<Option<StoredToken>> {
        let key = key.clone();
        self.run("reading a token", move |k| {
            Ok(k.read::<TokenEntry>(&token_user(&key.digest()))?
                .filter(|e| e.key == key)
                .map(|e| e.token))
        })
        .await
    }

    async fn put_token(&self, key: &TokenKey, token: &StoredToken) -> Result<()> {
        let _guard = self.index_lock().await?;
        let entry = TokenEntry {
            key: key.clone(),
            token: token.clone(),
        };
        self.run("storing a token", move |k| {
            let digest = entry.key.digest();
            k.write(&token_user(&digest), &entry)?;
            let mut index = k.index()?;
            Index::add(&mut index.tokens, digest);
            k.write_index(&mut index)
        })
        .await
    }

    async fn remove_token(&self, key: &TokenKey) -> Result<()> {
        let _guard = self.index_lock().await?;
        let digest = key.digest();
        self.run("removing a token", move |k| {
            k.delete(&token_user(&digest))?;
            let mut index = k.index()?;
            if index.tokens.contains(&digest) {
                index.tokens.retain(|d| d != &digest);
                k.write_index(&mut index)?;
            }
            Ok(())
        })
        .await
    }

    async fn tokens_for_server(&self, server_url: &str) -> Result<Vec<(TokenKey, StoredToken)>> {
        let server_url = server_url.to_owned();
        self.run("listing tokens", move |k| {
            let mut tokens = k.tokens()?;
            tokens.retain(|(_, t)| t.server_url == server_url);
            Ok(tokens)
        })
        .await
    }

    async fn get_registration(&self, issuer: &str) -> Result<Option<StoredRegistration>> {
        let issuer = issuer.to_owned();
        self.run("reading a registration", move |k| {
            Ok(
                k.read::<StoredRegistration>(&registration_user(&issuer_digest(&issuer)))?
                    .filter(|r| r.issuer == issuer),
            )
        })
        .await
    }

    async fn put_registration(&self, registration: &StoredRegistration) -> Result<()> {
        let _guard = self.index_lock().await?;
        let registration = registration.clone();
        self.run("storing a registration", move |k| {
            let digest = issuer_digest(&registration.issuer);
            k.write(&registration_user(&digest), &registration)?;
            let mut index = k.index()?;
            Index::add(&mut index.registrations, digest);
            k.write_index(&mut index)
        })
        .await
    }

    async fn remove_registration(&self, issuer: &str, client_id: &str) -> Result<()> {
        let _guard = self.index_lock().await?;
        let (issuer, client_id) = (issuer.to_owned(), client_id.to_owned());
        self.run("removing a registration", move |k| {
            let digest = issuer_digest(&issuer);
            let user = registration_user(&digest);
            match k.read::<StoredRegistration>(&user)? {
                // A newer registration made meanwhile by another process survives.
                Some(r) if r.client_id != client_id => return Ok(()),
                Some(_) => k.delete(&user)?,
                None => {}
            }
            let mut index = k.index()?;
            if index.registrations.contains(&digest) {
                index.registrations.retain(|d| d != &digest);
                k.write_index(&mut index)?;
            }
            Ok(())
        })
        .await
    }

    async fn all_tokens(&self) -> Result<Vec<(TokenKey, StoredToken)>> {
        self.run("listing tokens", |k| k.tokens()).await
    }

    async fn all_registrations(&self) -> Result<Vec<StoredRegistration>> {
        self.run("listing registrations", |k| {
            let mut out = Vec::new();
            for digest in k.index()?.registrations {
                if let Some(r) = k.read::<StoredRegistration>(&registration_user(&digest))?
                    && issuer_digest(&r.issuer) == digest
                {
                    out.push(r);
                }
            }
            out.sort_by(|a, b| a.issuer.cmp(&b.issuer));
            Ok(out)
        })
        .await
    }

    async fn lock(&self, key: &TokenKey) -> Result<StoreLock> {
        self.ensure_lock_dir()?;
        let path = self.lock_path(&format!(".{}.refresh.lock", key.digest()));
        let lock = FileLock::acquire(&path, self.lock_wait, self.stale_after).await?;
        Ok(StoreLock::new(lock))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_connection_and_lock_names_are_file_safe() {
        let s = KeychainStore::new("/tmp/x").with_service("a/b c");
        let d = format!("{s:?}");
        assert!(d.contains("a/b c") && !d.contains("connection"), "{d}");
        assert_eq!(
            s.lock_path(".lock"),
            PathBuf::from("/tmp/x/keychain-a_b_c.lock")
        );
    }

    #[test]
    fn errors_never_carry_stored_bytes() {
        let e = map_error(
            keyring_core::Error::BadEncoding(b"rt-very-secret".to_vec()),
            "reading a token",
        );
        assert!(!e.to_string().contains("very-secret"), "{e}");
        let e = map_error(
            keyring_core::Error::PlatformFailure(
                "org.freedesktop.DBus.Error.ServiceUnknown: no such name".into(),
            ),
            "reading a token",
        );
        assert!(e.to_string().contains("no Secret Service"), "{e}");
    }

    #[test]
    fn index_add_is_idempotent_and_sorted() {
        let mut l = Vec::new();
        Index::add(&mut l, "b".into());
        Index::add(&mut l, "a".into());
        Index::add(&mut l, "b".into());
        assert_eq!(l, ["a", "b"]);
    }
}
