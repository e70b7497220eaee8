//! A JSON file in the user's config directory, readable by the owner only.
//!
//! Writes go to a temporary file created with mode 0600 *before* any byte is written, which is
//! then renamed over the store: the credentials are never world-readable, not even for an
//! instant, and a reader never sees half a file. Every read-modify-write holds a short lock file
//! (`<file>.lock`) so two processes cannot lose each other's updates; refreshes hold a per-token
//! lock file (`<file>.<digest>.refresh.lock`) across the network call so that only one process
//! refreshes a given token.

use super::lock::FileLock;
use super::{CredentialStore, StoreData, StoreLock, StoredRegistration, StoredToken, TokenKey};
use crate::error::{Error, Result};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file format version written.
const VERSION: u32 = 1;

/// Credentials in a JSON file (mode 0600 in a 0700 directory on Unix).
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
    lock_wait: Duration,
    stale_after: Duration,
}

impl FileStore {
    /// A store at `path` (created on first write).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock_wait: Duration::from_secs(90),
            stale_after: Duration::from_secs(60),
        }
    }

    /// How long to wait for another process's lock (default 90 s), and after how long a lock
    /// file is considered abandoned by a crashed process (default 60 s; must exceed the longest
    /// refresh request).
    pub fn with_lock_timeouts(mut self, wait: Duration, stale_after: Duration) -> Self {
        self.lock_wait = wait;
        self.stale_after = stale_after;
        self
    }

    /// The default location: `$XDG_CONFIG_HOME/mcp-oauth/credentials.json`, else
    /// `~/.config/mcp-oauth/credentials.json` (or `%APPDATA%\mcp-oauth\credentials.json`).
    /// The CLI calls this; libraries embedding the client pass their own path.
    pub fn default_path() -> Result<PathBuf> {
        Self::default_path_from(
            std::env::var_os("XDG_CONFIG_HOME"),
            std::env::var_os("HOME"),
            std::env::var_os("APPDATA"),
        )
    }

    /// [`Self::default_path`] from explicit values (testable without touching the environment).
    pub fn default_path_from(
        xdg_config_home: Option<OsString>,
        home: Option<OsString>,
        appdata: Option<OsString>,
    ) -> Result<PathBuf> {
        let base = xdg_config_home
            .filter(|v| !v.is_empty() && Path::new(v).is_absolute())
            .map(PathBuf::from)
            .or_else(|| {
                home.filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".config"))
            })
            .or_else(|| appdata.filter(|v| !v.is_empty()).map(PathBuf::from))
            .ok_or_else(|| {
                Error::Config(
                    "cannot find a config directory (no XDG_CONFIG_HOME, HOME or APPDATA); pass a credentials file path".into(),
                )
            })?;
        Ok(base.join("mcp-oauth").join("credentials.json"))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self
            .path
            .file_name()
            .map(OsString::from)
            .unwrap_or_else(|| OsString::from("credentials.json"));
        name.push(suffix);
        self.path.with_file_name(name)
    }

    fn ensure_dir(&self) -> Result<()> {
        let Some(dir) = self.path.parent() else {
            return Ok(());
        };
        if dir.as_os_str().is_empty() || dir.exists() {
            return Ok(());
        }
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(dir)
            .map_err(|e| Error::store(Some(dir), format!("creating directory: {e}")))
    }

    /// Reads the whole file; a missing file is an empty store, a corrupt one an error (never
    /// silently overwritten).
    fn read(&self) -> Result<StoreData> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(StoreData::default()),
            Err(e) => return Err(Error::store(Some(&self.path), format!("reading: {e}"))),
        };
        #[cfg(unix)]
        if let Ok(meta) = std::fs::metadata(&self.path) {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(target: "mcp_oauth::client", path = %self.path.display(),
                    "credentials file is readable by others; it will be rewritten with mode 0600");
            }
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::store(
                Some(&self.path),
                format!("not a valid credentials file ({e}); move it away to start afresh"),
            )
        })
    }

    /// Writes the whole file atomically: a 0600 temporary file, fsync, rename.
    fn write(&self, data: &StoreData) -> Result<()> {
        self.ensure_dir()?;
        let tmp = self.sibling(&format!(".tmp-{}", mcp_oauth_core::secret::random_token(8)));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let result = (|| -> std::io::Result<()> {
            let mut f = opts.open(&tmp)?;
            let mut out = StoreData {
                version: VERSION,
                ..data.clone()
            };
            out.tokens.sort_by(|a, b| a.key.cmp(&b.key));
            let json = serde_json::to_vec_pretty(&out).map_err(std::io::Error::other)?;
            f.write_all(&json)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::store(Some(&self.path), format!("writing: {e}")));
        }
        Ok(())
    }

    /// Read-modify-write under the write lock.
    async fn update(&self, f: impl FnOnce(&mut StoreData)) -> Result<()> {
        self.ensure_dir()?;
        let _guard =
            FileLock::acquire(&self.sibling(".lock"), self.lock_wait, self.stale_after).await?;
        let mut data = self.read()?;
        f(&mut data);
        self.write(&data)
    }
}

#[async_trait::async_trait]
impl CredentialStore for FileStore {
    async fn get_token(&self, key: &TokenKey) -> Result<Option<StoredToken>> {
        Ok(self.read()?.get_token(key))
    }
    async fn put_token(&self, key: &TokenKey, token: &StoredToken) -> Result<()> {
        self.update(|d| d.put_token(key, token)).await
    }
    async fn remove_token(&self, key: &TokenKey) -> Result<()> {
        self.update(|d| d.remove_token(key)).await
    }
    async fn tokens_for_server(&self, server_url: &str) -> Result<Vec<(TokenKey, StoredToken)>> {
        Ok(self.read()?.tokens_for_server(server_url))
    }
    async fn get_registration(&self, issuer: &str) -> Result<Option<StoredRegistration>> {
        Ok(self.read()?.get_registration(issuer))
    }
    async fn put_registration(&self, registration: &StoredRegistration) -> Result<()> {
        self.update(|d| d.put_registration(registration)).await
    }
    async fn remove_registration(&self, issuer: &str, client_id: &str) -> Result<()> {
        self.update(|d| d.remove_registration(issuer, client_id))
            .await
    }
    async fn all_tokens(&self) -> Result<Vec<(TokenKey, StoredToken)>> {
        Ok(self.read()?.all_tokens())
    }
    async fn all_registrations(&self) -> Result<Vec<StoredRegistration>> {
        Ok(self.read()?.registrations)
    }
    async fn lock(&self, key: &TokenKey) -> Result<StoreLock> {
        self.ensure_dir()?;
        let path = self.sibling(&format!(".{}.refresh.lock", key.digest()));
        let lock = FileLock::acquire(&path, self.lock_wait, self.stale_after).await?;
        Ok(StoreLock::new(lock))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_path_order() {
        let p = FileStore::default_path_from(Some("/x/cfg".into()), Some("/home/u".into()), None)
            .unwrap();
        assert_eq!(p, PathBuf::from("/x/cfg/mcp-oauth/credentials.json"));
        let p =
            FileStore::default_path_from(Some("rel".into()), Some("/home/u".into()), None).unwrap();
        assert_eq!(
            p,
            PathBuf::from("/home/u/.config/mcp-oauth/credentials.json")
        );
        assert!(FileStore::default_path_from(None, None, None).is_err());
    }
}
