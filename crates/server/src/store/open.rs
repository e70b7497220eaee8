//! Opening the store a deployment names: a `postgres://` URL, or the SQLite file in the data
//! directory. One choice for every program (`serve`, the admin commands, tests), so that they
//! all agree on where the data is.

use super::Store;
use super::StoreError;
use super::postgres::PostgresStore;
use super::sqlite::SqliteStore;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The SQLite database's file name in the data directory.
pub const SQLITE_FILE: &str = "mcp-oauth.db";

/// Where the store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite database file (created, 0600, in a 0700 directory, if missing).
    Sqlite(PathBuf),
    /// A PostgreSQL database URL (its migrations run on open); several instances may share it.
    Postgres(String),
}

/// A store that cannot be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// A database URL of another kind (printed with its password masked).
    #[error(
        "invalid configuration `database`: `{0}` is not a postgres:// URL (leave it unset for SQLite in the data directory)"
    )]
    UnsupportedUrl(String),
    /// The data directory cannot be created.
    #[error("cannot create the data directory {}", .path.display())]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The database refused or failed.
    #[error("cannot open the database {shown}")]
    Open {
        /// The database, fit for printing.
        shown: String,
        /// Why.
        #[source]
        source: StoreError,
    },
}

impl Location {
    /// The store `database` names: a `postgres://` (or `postgresql://`) URL, or, unset or
    /// empty, the SQLite file in `data_dir`. Any other URL is refused.
    pub fn new(database: Option<&str>, data_dir: &Path) -> Result<Self, OpenError> {
        match database.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(Self::Sqlite(data_dir.join(SQLITE_FILE))),
            Some(url) if is_postgres(url) => Ok(Self::Postgres(url.to_owned())),
            Some(other) => Err(OpenError::UnsupportedUrl(redacted(other))),
        }
    }

    /// Opens it: creates the SQLite file and its directory if missing, or connects to
    /// PostgreSQL and runs its migrations.
    pub async fn open(&self) -> Result<Arc<dyn Store>, OpenError> {
        let failed = |source| OpenError::Open {
            shown: self.to_string(),
            source,
        };
        match self {
            Self::Postgres(url) => Ok(Arc::new(PostgresStore::connect(url).await.map_err(failed)?)),
            Self::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    create_private_dir(dir)?;
                }
                Ok(Arc::new(SqliteStore::open(path).await.map_err(failed)?))
            }
        }
    }
}

/// The location fit for printing: a path, or a URL with any password masked.
impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "{}", path.display()),
            Self::Postgres(url) => f.write_str(&redacted(url)),
        }
    }
}

/// Opens the store `database` names (see [`Location::new`]), SQLite in `data_dir` by default.
pub async fn open_url(
    database: Option<&str>,
    data_dir: &Path,
) -> Result<Arc<dyn Store>, OpenError> {
    Location::new(database, data_dir)?.open().await
}

/// Whether a database URL names PostgreSQL.
fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// A database URL fit for printing: any password replaced by `***`.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "(unparsable URL)".to_owned(),
    }
}

/// Creates `dir` (and its parents) with mode 0700 if it does not exist: it holds the database
/// and the key-encryption key, private to the user.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), OpenError> {
    if dir.exists() {
        return Ok(());
    }
    let failed = |source| OpenError::Directory {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(failed)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(failed)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_chooses_the_backend() {
        let dir = Path::new("/data");
        assert_eq!(
            Location::new(None, dir).unwrap(),
            Location::Sqlite(dir.join("mcp-oauth.db"))
        );
        assert_eq!(
            Location::new(Some("  "), dir).unwrap(),
            Location::Sqlite(dir.join("mcp-oauth.db")),
            "empty means SQLite"
        );
        for url in ["postgres://h/db", "postgresql://h/db"] {
            assert_eq!(
                Location::new(Some(url), dir).unwrap(),
                Location::Postgres(url.into())
            );
        }
        assert!(Location::new(Some("sqlite://x.db"), dir).is_err());
    }

    #[test]
    fn printed_urls_mask_the_password() {
        assert_eq!(
            redacted("postgres://app:s3cret@db.example:5432/auth?sslmode=require"),
            "postgres://app:***@db.example:5432/auth?sslmode=require"
        );
        assert_eq!(
            redacted("postgres://db.example/auth"),
            "postgres://db.example/auth"
        );
        let l = Location::new(
            Some("postgres://app:s3cret@db.example/auth"),
            Path::new("."),
        )
        .unwrap();
        assert_eq!(l.to_string(), "postgres://app:***@db.example/auth");
    }

    #[tokio::test]
    async fn other_database_urls_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let e = open_url(Some("mysql://u:pw@h/db"), dir.path())
            .await
            .err()
            .unwrap();
        let msg = e.to_string();
        assert!(msg.contains("`database`") && !msg.contains("pw@"), "{msg}");
        assert!(matches!(e, OpenError::UnsupportedUrl(_)));
    }

    #[tokio::test]
    async fn sqlite_is_created_in_a_private_directory() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("new");
        open_url(None, &data).await.unwrap();
        assert!(data.join(SQLITE_FILE).exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&data).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
    }
}
