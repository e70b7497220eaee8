//! Configuration for `serve`: defaults, then a TOML file, then `MCP_OAUTH_*` variables, then
//! flags. A bad value stops the start with a message naming its key.

use anyhow::{Context, bail};
use mcp_oauth_server::ServerConfig;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The keys a configuration file may hold. Unknown keys are an error (a typo should not be
/// silently ignored).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Listen address.
    pub addr: Option<String>,
    /// Issuer URL.
    pub issuer: Option<String>,
    /// Data directory.
    pub data_dir: Option<PathBuf>,
    /// Database URL (`postgres://…`); unset: SQLite in the data directory.
    pub database: Option<String>,
    /// Seconds between re-reads of the signing keys (other instances may have created some).
    pub key_reload_interval: Option<u64>,
    /// Development mode.
    pub dev: Option<bool>,
    /// TLS certificate chain (PEM).
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// `ES256`, `EdDSA`, `RS256` or `PS256`.
    pub signing_alg: Option<String>,
    /// Seconds.
    pub access_token_ttl: Option<i64>,
    /// Seconds.
    pub code_ttl: Option<i64>,
    /// Seconds.
    pub refresh_token_ttl: Option<i64>,
    /// Seconds.
    pub refresh_family_ttl: Option<i64>,
    /// Seconds.
    pub refresh_grace: Option<i64>,
    /// Seconds.
    pub session_ttl: Option<i64>,
    /// Bytes.
    pub max_body_bytes: Option<usize>,
    /// Count.
    pub login_free_attempts: Option<u32>,
    /// Seconds.
    pub login_max_backoff: Option<u64>,
    /// `open`, `token` or `off`.
    pub registration: Option<String>,
    /// Registrations per minute per IP.
    pub registration_rate_limit: Option<u32>,
    /// Seconds.
    pub unused_registration_ttl: Option<i64>,
    /// Milliseconds a client or resource record is reused (0: off).
    pub record_cache_ttl_ms: Option<u64>,
    /// Fetch `https` client ids as Client ID Metadata Documents.
    pub cimd_enabled: Option<bool>,
    /// Development only: allow loopback hosts for documents and client JWKS.
    pub cimd_allow_loopback: Option<bool>,
    /// Hosts (or `*.domain`) whose documents are accepted; empty: any.
    pub cimd_allow_hosts: Option<Vec<String>>,
    /// Hosts (or `*.domain`) whose documents are refused.
    pub cimd_deny_hosts: Option<Vec<String>>,
    /// Seconds.
    pub cimd_cache_min_ttl: Option<i64>,
    /// Seconds.
    pub cimd_cache_max_ttl: Option<i64>,
    /// Milliseconds.
    pub fetch_connect_timeout_ms: Option<u64>,
    /// Milliseconds.
    pub fetch_timeout_ms: Option<u64>,
    /// Seconds.
    pub assertion_max_lifetime: Option<i64>,
    /// Seconds.
    pub jwks_refetch_interval: Option<i64>,
    /// Seconds an audit event is kept.
    pub audit_retention: Option<i64>,
    /// Token requests per minute per client IP (0: no limit).
    pub token_rate_limit_per_ip: Option<u32>,
    /// Token requests per minute per client (0: no limit).
    pub token_rate_limit_per_client: Option<u32>,
    /// Authorization requests per minute per client IP (0: no limit).
    pub authorize_rate_limit_per_ip: Option<u32>,
    /// Login posts per minute per client IP (0: no limit).
    pub login_rate_limit_per_ip: Option<u32>,
    /// Seconds between scheduled signing-key rotations (0: off).
    pub key_rotation_interval: Option<i64>,
    /// A separate listen address for `GET /metrics` (no token; keep it private).
    pub metrics_addr: Option<String>,
    /// A file holding the bearer token `/metrics` requires on the main listener
    /// (`MCP_OAUTH_METRICS_TOKEN` gives the token itself).
    pub metrics_token_file: Option<PathBuf>,
    /// Browser origins allowed by CORS on the metadata, JWKS, registration, token and revocation
    /// endpoints; empty: any (`*`).
    pub cors_allowed_origins: Option<Vec<String>>,
    /// Non-conforming redirect URI schemes of known clients that are admitted.
    pub redirect_uri_schemes: Option<Vec<String>>,
}

/// Reads the configuration file, if one was named.
pub fn read_file(path: Option<&Path>) -> anyhow::Result<FileConfig> {
    let Some(path) = path else {
        return Ok(FileConfig::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid configuration file {}", path.display()))
}

/// An `MCP_OAUTH_<KEY>` variable parsed as `T`, naming the variable on error.
fn env_value<T: std::str::FromStr>(key: &str) -> anyhow::Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    let var = format!("MCP_OAUTH_{}", key.to_ascii_uppercase());
    match std::env::var(&var) {
        Ok(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|e| anyhow::anyhow!("invalid value for {var} (`{key}`): {e}")),
        Err(_) => Ok(None),
    }
}

/// The default of `key_reload_interval`, in seconds.
pub const DEFAULT_KEY_RELOAD_INTERVAL: u64 = 60;

/// How often `serve` re-reads the signing keys: `MCP_OAUTH_KEY_RELOAD_INTERVAL`, else the file's
/// `key_reload_interval`, else 60 seconds. At least one second.
pub fn key_reload_interval(file: &FileConfig) -> anyhow::Result<std::time::Duration> {
    let secs = match env_value::<u64>("key_reload_interval")? {
        Some(v) => v,
        None => file
            .key_reload_interval
            .unwrap_or(DEFAULT_KEY_RELOAD_INTERVAL),
    };
    if secs == 0 {
        bail!("invalid configuration `key_reload_interval`: must be at least 1 second");
    }
    Ok(std::time::Duration::from_secs(secs))
}

/// Applies file values and then environment overrides to a server configuration.
pub fn apply(file: &FileConfig, mut c: ServerConfig) -> anyhow::Result<ServerConfig> {
    macro_rules! set {
        ($field:ident) => {
            if let Some(v) = file.$field {
                c.$field = v;
            }
            if let Some(v) = env_value(stringify!($field))? {
                c.$field = v;
            }
        };
    }
    set!(access_token_ttl);
    set!(code_ttl);
    set!(refresh_token_ttl);
    set!(refresh_family_ttl);
    set!(refresh_grace);
    set!(session_ttl);
    set!(max_body_bytes);
    set!(login_free_attempts);
    set!(login_max_backoff);
    set!(registration_rate_limit);
    set!(unused_registration_ttl);
    set!(record_cache_ttl_ms);
    set!(cimd_enabled);
    set!(cimd_allow_loopback);
    set!(cimd_cache_min_ttl);
    set!(cimd_cache_max_ttl);
    set!(fetch_connect_timeout_ms);
    set!(fetch_timeout_ms);
    set!(assertion_max_lifetime);
    set!(jwks_refetch_interval);
    set!(audit_retention);
    set!(token_rate_limit_per_ip);
    set!(token_rate_limit_per_client);
    set!(authorize_rate_limit_per_ip);
    set!(login_rate_limit_per_ip);
    set!(key_rotation_interval);
    for (key, file_value, field) in [
        (
            "cimd_allow_hosts",
            &file.cimd_allow_hosts,
            &mut c.cimd_allow_hosts,
        ),
        (
            "cimd_deny_hosts",
            &file.cimd_deny_hosts,
            &mut c.cimd_deny_hosts,
        ),
        (
            "cors_allowed_origins",
            &file.cors_allowed_origins,
            &mut c.cors_allowed_origins,
        ),
        (
            "redirect_uri_schemes",
            &file.redirect_uri_schemes,
            &mut c.redirect_uri_schemes,
        ),
    ] {
        if let Some(v) = file_value {
            field.clone_from(v);
        }
        // In the environment, a comma-separated list.
        if let Some(v) = env_value::<String>(key)? {
            *field = v
                .split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(str::to_owned)
                .collect();
        }
    }
    c.metrics_token = metrics_token(file)?;
    let registration = match env_value::<String>("registration")? {
        Some(v) => Some(v),
        None => file.registration.clone(),
    };
    if let Some(name) = registration {
        c.registration = name
            .parse()
            .map_err(|e| anyhow::anyhow!("invalid configuration `registration`: {e}"))?;
    }
    let alg = match env_value::<String>("signing_alg")? {
        Some(v) => Some(v),
        None => file.signing_alg.clone(),
    };
    if let Some(name) = alg {
        match mcp_oauth_core::jose::parse_signing_algorithm(&name) {
            Some(a) => c.signing_alg = a,
            None => bail!(
                "invalid configuration `signing_alg`: `{name}` is not ES256, EdDSA, RS256 or PS256"
            ),
        }
    }
    Ok(c)
}

/// The metrics bearer token: `MCP_OAUTH_METRICS_TOKEN`, else the first line of
/// `metrics_token_file`. An empty token is refused (it would look like protection).
fn metrics_token(file: &FileConfig) -> anyhow::Result<Option<String>> {
    let token = match env_value::<String>("metrics_token")? {
        Some(t) => Some(t),
        None => match &file.metrics_token_file {
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

    #[test]
    fn database_and_key_reload_interval_are_read() {
        let f: FileConfig =
            toml::from_str("database = \"postgres://db.example/auth\"\nkey_reload_interval = 5")
                .unwrap();
        assert_eq!(f.database.as_deref(), Some("postgres://db.example/auth"));
        if std::env::var_os("MCP_OAUTH_KEY_RELOAD_INTERVAL").is_none() {
            assert_eq!(key_reload_interval(&f).unwrap().as_secs(), 5);
            let zero: FileConfig = toml::from_str("key_reload_interval = 0").unwrap();
            let e = key_reload_interval(&zero).unwrap_err();
            assert!(e.to_string().contains("key_reload_interval"), "{e}");
            assert_eq!(
                key_reload_interval(&FileConfig::default())
                    .unwrap()
                    .as_secs(),
                DEFAULT_KEY_RELOAD_INTERVAL
            );
        }
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = toml::from_str::<FileConfig>("acces_token_ttl = 5").unwrap_err();
        assert!(err.to_string().contains("acces_token_ttl"), "{err}");
    }

    #[test]
    fn file_values_apply() {
        let f: FileConfig =
            toml::from_str("access_token_ttl = 300\nsigning_alg = \"EdDSA\"").unwrap();
        let c = apply(&f, ServerConfig::new("https://a.example")).unwrap();
        assert_eq!(c.access_token_ttl, 300);
        assert_eq!(c.signing_alg, mcp_oauth_core::jose::Algorithm::EdDSA);
        let f: FileConfig = toml::from_str(
            "registration = \"token\"\ncimd_deny_hosts = [\"*.evil.example\"]\ncimd_allow_loopback = true",
        )
        .unwrap();
        let c = apply(&f, ServerConfig::new("https://a.example")).unwrap();
        assert_eq!(c.registration, mcp_oauth_server::RegistrationPolicy::Token);
        assert_eq!(c.cimd_deny_hosts, vec!["*.evil.example"]);
        assert!(c.cimd_allow_loopback);
        let f: FileConfig = toml::from_str(
            "cors_allowed_origins = [\"http://localhost:6274\"]\nredirect_uri_schemes = []",
        )
        .unwrap();
        let c = apply(&f, ServerConfig::new("https://a.example")).unwrap();
        assert_eq!(c.cors_allowed_origins, vec!["http://localhost:6274"]);
        assert!(c.redirect_uri_schemes.is_empty());
        assert_eq!(
            ServerConfig::new("https://a.example").redirect_uri_schemes,
            vec!["cursor"]
        );
        let bad: FileConfig = toml::from_str("registration = \"maybe\"").unwrap();
        let e = apply(&bad, ServerConfig::new("https://a.example")).unwrap_err();
        assert!(e.to_string().contains("registration"), "{e}");
        let bad: FileConfig = toml::from_str("signing_alg = \"HS256\"").unwrap();
        let e = apply(&bad, ServerConfig::new("https://a.example")).unwrap_err();
        assert!(e.to_string().contains("signing_alg"));
    }
}
