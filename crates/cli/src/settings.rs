//! Configuration for `serve`: defaults, then a TOML file, then `MCP_OAUTH_*` variables, then
//! flags. The server's keys are [`ServerConfig`]'s own: it deserializes itself, with one
//! generic environment overlay (`mcp_oauth_server::config::layers`). This file holds only the
//! keys that are the program's: where it listens and keeps its state, TLS, `dev`, metrics.

use anyhow::{Context, bail};
use mcp_oauth_server::ServerConfig;
use mcp_oauth_server::config::Layers;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The keys of the configuration file that are not [`ServerConfig`] fields. Their variables are
/// read by the flags' `env` (`MCP_OAUTH_ADDR`, `MCP_OAUTH_DATA_DIR`, …); the metrics token by
/// [`metrics_token`].
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ProgramKeys {
    /// Listen address.
    pub addr: Option<String>,
    /// Data directory.
    pub data_dir: Option<PathBuf>,
    /// Database URL (`postgres://…`); unset: SQLite in the data directory.
    pub database: Option<String>,
    /// Development mode.
    pub dev: Option<bool>,
    /// TLS certificate chain (PEM).
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// A separate listen address for `GET /metrics` (no token; keep it private).
    pub metrics_addr: Option<String>,
    /// A file holding the bearer token `/metrics` requires on the main listener
    /// (`MCP_OAUTH_METRICS_TOKEN` gives the token itself).
    pub metrics_token_file: Option<PathBuf>,
}

/// A configuration file read: the program's keys, and the server's not yet deserialized.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The program's keys.
    pub own: ProgramKeys,
    server: Layers,
}

/// Reads the configuration file, if one was named. Every command that reads it refuses an
/// unknown key or a bad value in it, as `serve` would.
pub fn read_file(path: Option<&Path>) -> anyhow::Result<Settings> {
    let Some(path) = path else {
        return Ok(Settings::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    let invalid = || format!("invalid configuration file {}", path.display());
    let mut server = Layers::from_toml(&text).with_context(invalid)?;
    let own = server.split_file::<ProgramKeys>().with_context(invalid)?;
    ServerConfig::from_layers(&server).with_context(invalid)?;
    Ok(Settings { own, server })
}

impl Settings {
    /// The server configuration of the file with the `MCP_OAUTH_*` variables over it, and the
    /// metrics token. Not validated: the caller applies its flags first.
    pub fn server_config(&self) -> anyhow::Result<ServerConfig> {
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        let mut config = ServerConfig::from_layers(&self.server.clone().with_env(vars))?;
        config.metrics_token = metrics_token(&self.own)?;
        for block in &mut config.upstream {
            block.client_secret = upstream_secret(block)?;
        }
        Ok(config)
    }
}

/// An upstream block's client secret: the variable `client_secret_env` names, or the first line
/// of `client_secret_file`; never a value of the file itself. A named source that is missing or
/// empty is an error naming the block (a sign-in would fail later, less clearly).
fn upstream_secret(
    block: &mcp_oauth_server::config::UpstreamConfig,
) -> anyhow::Result<Option<mcp_oauth_core::secret::Secret>> {
    let id = &block.id;
    let secret = match (&block.client_secret_env, &block.client_secret_file) {
        (Some(var), _) => std::env::var(var).map_err(|_| {
            anyhow::anyhow!("invalid configuration [[upstream]] `{id}`: the variable {var} (client_secret_env) is not set")
        })?,
        (None, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| {
                format!("invalid configuration [[upstream]] `{id}`: cannot read client_secret_file {path}")
            })?
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned(),
        (None, None) => return Ok(None),
    };
    let secret = secret.trim().to_owned();
    if secret.is_empty() {
        bail!("invalid configuration [[upstream]] `{id}`: the client secret is empty");
    }
    Ok(Some(mcp_oauth_core::secret::Secret::new(secret)))
}

/// The metrics bearer token: `MCP_OAUTH_METRICS_TOKEN`, else the first line of
/// `metrics_token_file`. An empty token is refused (it would look like protection).
fn metrics_token(own: &ProgramKeys) -> anyhow::Result<Option<String>> {
    let token = match std::env::var("MCP_OAUTH_METRICS_TOKEN") {
        Ok(t) => Some(t.trim().to_owned()),
        Err(_) => match &own.metrics_token_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .with_context(|| {
                        format!("cannot read `metrics_token_file` {}", path.display())
                    })?
                    .trim()
                    .to_owned(),
            ),
            None => None,
        },
    };
    match token {
        Some(t) if t.len() < 16 => bail!(
            "invalid configuration `metrics_token`: use at least 16 characters (a random string)"
        ),
        t => Ok(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> anyhow::Result<Settings> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        read_file(Some(&path))
    }

    #[test]
    fn the_programs_keys_and_the_servers_share_the_file() {
        let s = read(
            "database = \"postgres://db.example/auth\"\nkey_reload_interval = 5\naddr = \"127.0.0.1:1\"\ndev = true",
        )
        .unwrap();
        assert_eq!(
            s.own.database.as_deref(),
            Some("postgres://db.example/auth")
        );
        assert_eq!(s.own.addr.as_deref(), Some("127.0.0.1:1"));
        assert_eq!(s.own.dev, Some(true));
        if std::env::var_os("MCP_OAUTH_KEY_RELOAD_INTERVAL").is_none() {
            let c = s.server_config().unwrap();
            assert_eq!(c.key_reload_interval, 5);
            assert!(!c.dev, "dev is applied by serve, from the flag or the file");
        }
    }

    #[test]
    fn upstream_secrets_come_from_a_file_never_from_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s3cret-value\nignored\n").unwrap();
        let block = |extra: &str| {
            format!(
                "[[upstream]]\nid = \"corp\"\npreset = \"oidc\"\nissuer = \"https://idp.example\"\nclient_id = \"a\"\n{extra}"
            )
        };
        let s = read(&block(&format!(
            "client_secret_file = {:?}",
            secret.display().to_string()
        )))
        .unwrap();
        let c = s.server_config().unwrap();
        assert_eq!(
            c.upstream[0].client_secret.as_ref().unwrap().expose(),
            "s3cret-value"
        );
        let e = read(&block(
            "client_secret_env = \"MCP_OAUTH_TEST_NO_SUCH_VARIABLE\"",
        ))
        .unwrap()
        .server_config()
        .unwrap_err();
        assert!(
            e.to_string().contains("MCP_OAUTH_TEST_NO_SUCH_VARIABLE"),
            "{e}"
        );
        assert!(read(&block("client_secret = \"inline\"")).is_err());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let e = read("acces_token_ttl = 5").unwrap_err();
        assert!(format!("{e:#}").contains("acces_token_ttl"), "{e:#}");
        let e = read("addr = 5").unwrap_err();
        assert!(format!("{e:#}").contains("`addr`"), "{e:#}");
        let e = read("registration = \"maybe\"").unwrap_err();
        assert!(format!("{e:#}").contains("registration"), "{e:#}");
        assert!(read("").is_ok());
    }
}
