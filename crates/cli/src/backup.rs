//! `mcp-oauth backup FILE`: an online copy of the SQLite database.
//!
//! `VACUUM INTO` writes a consistent snapshot (one read transaction) while the server keeps
//! serving; the copy is compact and has no `-wal` file. Restore: stop the server, replace
//! `DATA_DIR/mcp-oauth.db` with the copy (and delete `mcp-oauth.db-wal` and `mcp-oauth.db-shm`),
//! start it again. The signing keys inside are encrypted with the KEK, which is not in the copy:
//! keep `DATA_DIR/kek` (or `MCP_OAUTH_KEK`) with it.

use crate::output::emit;
use crate::{GlobalArgs, data, settings};
use anyhow::{Context, bail};
use mcp_oauth_server::store::sqlite::SqliteStore;
use std::path::PathBuf;

/// Options of `backup`.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// Where to write the copy; must not exist yet. Created with mode 0600.
    file: PathBuf,
}

pub async fn run(global: &GlobalArgs, args: BackupArgs) -> anyhow::Result<()> {
    let file = settings::read_file(global.config.as_deref())?.own;
    if let Some(url) = data::database(global.database.as_deref(), file.database.as_deref()) {
        bail!(
            "the database is PostgreSQL ({}): back it up with PostgreSQL's own tools, e.g. \
             `pg_dump --format=custom --file=FILE '<url>'` (restore with pg_restore), or your \
             provider's snapshots; keep the KEK (MCP_OAUTH_KEK) with the backup",
            mcp_oauth_server::store::redacted(url)
        );
    }
    let dir = data::dir(global.data_dir.as_deref(), file.data_dir.as_deref());
    let source = dir.join(mcp_oauth_server::store::SQLITE_FILE);
    if !source.exists() {
        bail!("no database at {}", source.display());
    }
    let target = &args.file;
    create_private_empty(target)?;
    let result = async {
        let store = SqliteStore::open(&source)
            .await
            .with_context(|| format!("cannot open the database {}", source.display()))?;
        store
            .backup_into(target)
            .await
            .with_context(|| format!("cannot write the backup {}", target.display()))?;
        store.pool().close().await;
        anyhow::Ok(())
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_file(target);
    }
    result?;
    let bytes = std::fs::metadata(target).map(|m| m.len()).unwrap_or(0);
    emit(
        global.json,
        &serde_json::json!({"backup": target, "bytes": bytes, "source": source}),
        || {
            format!(
                "backup of {} written to {} ({bytes} bytes); keep the KEK ({}/kek or MCP_OAUTH_KEK) with it",
                source.display(),
                target.display(),
                dir.display()
            )
        },
    )
}

/// Creates `path` empty with owner-only permissions (`VACUUM INTO` accepts an empty file); an
/// existing file is refused rather than overwritten.
fn create_private_empty(path: &std::path::Path) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!("{} exists; choose a new file", path.display())
        }
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}
