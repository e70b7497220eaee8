//! Where the server's state is: the data directory (flag, `MCP_OAUTH_DATA_DIR`, the config file,
//! or `./mcp-oauth-data`) and the database (`--database`; unset, SQLite in the data directory).
//! Opening them is the server crate's ([`Location`], [`Kek::load_or_create`]); this module picks
//! the names and keeps the admin commands from creating an empty database unasked.

use mcp_oauth_server::keys::kek::Kek;
use mcp_oauth_server::store::{Location, Store};
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

/// The database URL: flag or `MCP_OAUTH_DATABASE`, then the config file's `database`; `None`
/// (also for an empty value) means SQLite in the data directory.
pub fn database<'a>(flag: Option<&'a str>, file: Option<&'a str>) -> Option<&'a str> {
    flag.or(file).map(str::trim).filter(|s| !s.is_empty())
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
    let location = Location::new(database, &dir)?;
    let path = match &location {
        Location::Postgres(_) => {
            crate::output::note(format!("database: {location} (PostgreSQL)"));
            return Ok(location.open().await?);
        }
        Location::Sqlite(path) => path,
    };
    let shown = std::path::absolute(path).unwrap_or_else(|_| path.clone());
    if !path.exists() && !explicit_dir {
        confirm_new_database(&shown)?;
    }
    let store = location.open().await?;
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
    let given = std::env::var("MCP_OAUTH_KEK").ok();
    Ok(Kek::load_or_create(dir, given.as_deref())?)
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
    }
}
