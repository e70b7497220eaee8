//! The key-encryption key's file: `DATA_DIR/kek`, base64url, mode 0600, created once.
//!
//! A deployment gives the KEK in the environment (`MCP_OAUTH_KEK`; the program reads it and
//! passes it here), which every instance on one PostgreSQL database must share; otherwise it is
//! generated on first use into the data directory, next to the SQLite database, so that the
//! database file alone does not reveal the signing keys.

use super::{Kek, KekError};
use crate::store::{OpenError, create_private_dir};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The KEK file's name in the data directory.
pub const KEK_FILE: &str = "kek";

/// A KEK that cannot be loaded or created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KekFileError {
    /// The KEK given (`MCP_OAUTH_KEK`) is not one.
    #[error("invalid MCP_OAUTH_KEK")]
    Given(#[source] KekError),
    /// The file holds no KEK.
    #[error("invalid key file {}", .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: KekError,
    },
    /// The file cannot be read.
    #[error("cannot read {}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file cannot be created or written.
    #[error("cannot create {}", .path.display())]
    Create {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The data directory cannot be created.
    #[error(transparent)]
    Directory(#[from] OpenError),
    /// No random key could be made.
    #[error("cannot generate a key-encryption key")]
    Generate(#[source] KekError),
}

impl Kek {
    /// The KEK `given` holds (the base64url text of `MCP_OAUTH_KEK`), else the one in
    /// `dir/kek`, generated there (mode 0600, the directory 0700) on first use. Two processes
    /// starting at once agree: the file is created exclusively, and the loser reads the
    /// winner's.
    pub fn load_or_create(dir: &Path, given: Option<&str>) -> Result<Self, KekFileError> {
        if let Some(text) = given {
            return Kek::from_base64url(text).map_err(KekFileError::Given);
        }
        create_private_dir(dir)?;
        let path = dir.join(KEK_FILE);
        match read(&path) {
            Err(KekFileError::Read { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            other => return other,
        }
        let kek = Kek::generate().map_err(KekFileError::Generate)?;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let created = |source| KekFileError::Create {
            path: path.clone(),
            source,
        };
        match opts.open(&path) {
            Ok(mut f) => {
                f.write_all(kek.to_base64url().as_bytes())
                    .map_err(created)?;
                f.sync_all().map_err(created)?;
                Ok(kek)
            }
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(&path),
            Err(e) => Err(created(e)),
        }
    }
}

/// The KEK in `path`.
fn read(path: &Path) -> Result<Kek, KekFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| KekFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Kek::from_base64url(&text).map_err(|source| KekFileError::Invalid {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_then_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = Kek::load_or_create(&data, None).unwrap();
        let again = Kek::load_or_create(&data, None).unwrap();
        assert_eq!(*first.to_base64url(), *again.to_base64url());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&data.join(KEK_FILE)), 0o600);
            assert_eq!(mode(&data), 0o700);
        }
    }

    #[test]
    fn the_given_key_wins_and_bad_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let given = Kek::generate().unwrap().to_base64url();
        let k = Kek::load_or_create(dir.path(), Some(&given)).unwrap();
        assert_eq!(*k.to_base64url(), *given);
        assert!(
            !dir.path().join(KEK_FILE).exists(),
            "no file with a given key"
        );
        let e = Kek::load_or_create(dir.path(), Some("short")).unwrap_err();
        assert!(e.to_string().contains("MCP_OAUTH_KEK"), "{e}");
        std::fs::write(dir.path().join(KEK_FILE), "garbage").unwrap();
        let e = Kek::load_or_create(dir.path(), None).unwrap_err();
        assert!(matches!(e, KekFileError::Invalid { .. }), "{e}");
    }
}
