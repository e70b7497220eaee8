//! A cross-process lock made of an exclusively created file.
//!
//! `OpenOptions::create_new` is atomic on every platform and file system we care about, needs no
//! extra crate and no platform `flock` semantics (which differ on NFS and Windows). A holder that
//! crashed leaves its file behind, so a lock file older than `stale_after` is taken over. Each
//! lock file holds a random nonce, and a holder only deletes the file if the nonce is still its
//! own, so a holder that was declared stale cannot release somebody else's lock.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often a waiting process looks at the lock again.
const POLL: Duration = Duration::from_millis(20);

/// A held lock file; dropping it releases the lock.
#[derive(Debug)]
pub struct FileLock {
    path: PathBuf,
    nonce: String,
}

impl FileLock {
    /// Takes the lock at `path`, waiting up to `wait`. A lock file older than `stale_after` is
    /// considered abandoned and removed.
    pub async fn acquire(path: &Path, wait: Duration, stale_after: Duration) -> Result<Self> {
        let start = std::time::Instant::now();
        loop {
            if let Some(lock) = Self::try_acquire(path, stale_after)? {
                return Ok(lock);
            }
            if start.elapsed() >= wait {
                return Err(Error::LockTimeout {
                    path: path.to_path_buf(),
                    waited: wait,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// One attempt: `Some` if the lock was taken, `None` if someone else holds it.
    pub fn try_acquire(path: &Path, stale_after: Duration) -> Result<Option<Self>> {
        let nonce = format!(
            "{} {}",
            std::process::id(),
            mcp_oauth_core::secret::random_token(12)
        );
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        match opts.open(path) {
            Ok(mut f) => {
                f.write_all(nonce.as_bytes())
                    .and_then(|()| f.sync_all())
                    .map_err(|e| Error::store(Some(path), format!("writing lock file: {e}")))?;
                Ok(Some(Self {
                    path: path.to_path_buf(),
                    nonce,
                }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let stale = std::fs::metadata(path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > stale_after);
                if stale {
                    tracing::warn!(target: "mcp_oauth::client", path = %path.display(), "removing a stale lock file");
                    let _ = std::fs::remove_file(path);
                }
                Ok(None)
            }
            Err(e) => Err(Error::store(Some(path), format!("creating lock file: {e}"))),
        }
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        if std::fs::read_to_string(&self.path).is_ok_and(|n| n == self.nonce) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn exclusive_then_released() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.lock");
        let a = FileLock::try_acquire(&p, Duration::from_secs(60))
            .unwrap()
            .unwrap();
        assert!(
            FileLock::try_acquire(&p, Duration::from_secs(60))
                .unwrap()
                .is_none()
        );
        let err = FileLock::acquire(&p, Duration::from_millis(50), Duration::from_secs(60))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::LockTimeout { .. }), "{err}");
        drop(a);
        assert!(!p.exists());
        assert!(
            FileLock::try_acquire(&p, Duration::from_secs(60))
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn stale_lock_is_taken_over_and_not_released_by_the_old_holder() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.lock");
        let old = FileLock::try_acquire(&p, Duration::from_secs(60))
            .unwrap()
            .unwrap();
        // With a zero staleness limit the existing file counts as abandoned.
        let new = FileLock::acquire(&p, Duration::from_secs(5), Duration::ZERO)
            .await
            .unwrap();
        drop(old);
        assert!(p.exists(), "the old holder must not delete the new lock");
        drop(new);
        assert!(!p.exists());
    }
}
