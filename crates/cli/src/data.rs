//! The data directory: the SQLite database and the key-encryption key, private to the user; or,
//! with `--database postgres://…`, a PostgreSQL database (the KEK stays in the data directory or
//! `MCP_OAUTH_KEK`, which several instances on one database must share).

use anyhow::{Context, bail};
use mcp_oauth_server::keys::kek::Kek;
use mcp_oauth_server::store::Store;
use mcp_oauth_server::store::postgres::PostgresStore;
use mcp_oauth_server::store::sqlite::SqliteStore;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The default data directory, relative to the working directory.
pub const DEFAULT_DIR: &str = "mcp-oauth-data";

/// Resolves the data directory: flag or `MCP_OAUTH_DATA_DIR`, then the config file, then the default.
pub fn dir(flag: Option<&Path>, file: Option<&Path>) -> PathBuf {
    flag.or(file)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR))
}

/// Creates the directory (mode 0700) if needed.
pub fn ensure(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}

/// The database URL: flag or `MCP_OAUTH_DATABASE`, then the config file's `database`; `None`
/// (also for an empty value) means SQLite in the data directory.
pub fn database<'a>(flag: Option<&'a str>, file: Option<&'a str>) -> Option<&'a str> {
    flag.or(file).map(str::trim).filter(|s| !s.is_empty())
}

/// Whether a database URL names PostgreSQL.
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The SQLite database file in `dir`.
pub fn sqlite_path(dir: &Path) -> PathBuf {
    dir.join("mcp-oauth.db")
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

/// Opens the store: PostgreSQL when `database` is a `postgres://` URL (running its migrations),
/// else the SQLite database in `dir`.
pub async fn open_store(dir: &Path, database: Option<&str>) -> anyhow::Result<Arc<dyn Store>> {
    match database {
        Some(url) if is_postgres(url) => {
            let store = PostgresStore::connect(url)
                .await
                .with_context(|| format!("cannot open the database {}", redacted(url)))?;
            Ok(Arc::new(store))
        }
        Some(other) => bail!(
            "invalid configuration `database`: `{}` is not a postgres:// URL (leave it unset for SQLite in the data directory)",
            redacted(other)
        ),
        None => {
            ensure(dir)?;
            let path = sqlite_path(dir);
            let store = SqliteStore::open(&path)
                .await
                .with_context(|| format!("cannot open the database {}", path.display()))?;
            Ok(Arc::new(store))
        }
    }
}

/// Opens the store of an administration command, saying on stderr which database it is.
///
/// An admin command run in the wrong directory must not quietly create a new, empty
/// `./mcp-oauth-data` (the client added there would be unknown to the server that runs
/// elsewhere). So when the SQLite file does not exist and no data directory was named (flag,
/// `MCP_OAUTH_DATA_DIR` or the config file), it asks first on a terminal and refuses otherwise.
pub async fn open_admin_store(global: &crate::GlobalArgs) -> anyhow::Result<Arc<dyn Store>> {
    let file = crate::settings::read_file(global.config.as_deref())?.own;
    let explicit_dir = global.data_dir.is_some() || file.data_dir.is_some();
    let dir = dir(global.data_dir.as_deref(), file.data_dir.as_deref());
    let database = database(global.database.as_deref(), file.database.as_deref());
    if let Some(url) = database.filter(|u| is_postgres(u)) {
        crate::output::note(format!("database: {} (PostgreSQL)", redacted(url)));
        return open_store(&dir, database).await;
    }
    let path = sqlite_path(&dir);
    let shown = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
    if database.is_none() && !path.exists() && !explicit_dir {
        confirm_new_database(&shown)?;
    }
    let store = open_store(&dir, database).await?;
    crate::output::note(format!("database: {} (SQLite)", shown.display()));
    Ok(store)
}

/// Asks before a new, empty database is created at `path` (refuses without a terminal).
fn confirm_new_database(path: &Path) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let refusal = format!(
        "there is no database at {}: this command would create a new, empty one. Run it where          the server keeps its data, or name the directory: `--data-dir DIR` (or          MCP_OAUTH_DATA_DIR); to start a new one there, pass `--data-dir` explicitly",
        path.display()
    );
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(crate::output::explained(refusal, None));
    }
    eprint!(
        "There is no database at {}. Create a new, empty one? [y/N] ",
        path.display()
    );
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
        Ok(())
    } else {
        Err(crate::output::explained(refusal, None))
    }
}

/// The KEK from `MCP_OAUTH_KEK`, else from `dir/kek`, generated there (mode 0600) on first use.
pub fn load_kek(dir: &Path) -> anyhow::Result<Kek> {
    if let Ok(v) = std::env::var("MCP_OAUTH_KEK") {
        return Kek::from_base64url(&v).context("invalid MCP_OAUTH_KEK");
    }
    ensure(dir)?;
    let path = dir.join("kek");
    match std::fs::read_to_string(&path) {
        Ok(s) => {
            return Kek::from_base64url(&s)
                .with_context(|| format!("invalid key file {}", path.display()));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    let kek = Kek::generate()?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(&path) {
        Ok(mut f) => {
            f.write_all(kek.to_base64url().as_bytes())?;
            f.sync_all()?;
            Ok(kek)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let s = std::fs::read_to_string(&path)?;
            Kek::from_base64url(&s).with_context(|| format!("invalid key file {}", path.display()))
        }
        Err(e) => bail!("cannot create {}: {e}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_comes_from_the_flag_then_the_file() {
        assert_eq!(
            database(Some("postgres://a/b"), Some("postgres://c/d")),
            Some("postgres://a/b")
        );
        assert_eq!(
            database(None, Some("postgres://c/d")),
            Some("postgres://c/d")
        );
        assert_eq!(database(Some("  "), None), None, "empty means SQLite");
        assert_eq!(database(None, None), None);
        assert!(is_postgres("postgresql://h/db") && is_postgres("postgres://h/db"));
        assert!(!is_postgres("sqlite://x.db"));
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
    }

    #[tokio::test]
    async fn other_database_urls_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let e = open_store(dir.path(), Some("mysql://u:pw@h/db"))
            .await
            .err()
            .unwrap();
        let msg = format!("{e:#}");
        assert!(msg.contains("`database`") && !msg.contains("pw@"), "{msg}");
    }
}
