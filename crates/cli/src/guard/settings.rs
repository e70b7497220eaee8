//! The guard's settings: its flags over the `[guard]` table of `--config FILE`, over the
//! defaults. Every key of the table is a flag's long name with `_` for `-` (`allow_origin`,
//! `client_secret_env`, ...), plus the `generic` profile's knobs (`scope_claims`,
//! `audience_claims`, `typ`, `required_claims`). Repeatable flags are a string or an array in the
//! file; given on the command line, they replace the file's list.

use super::GuardArgs;
use anyhow::{Context, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A string or a list of strings in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s],
            Self::Many(v) => v,
        }
    }
}

/// The file: only its `[guard]` table is the guard's (the rest may be `serve`'s).
#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(default)]
    guard: Option<Table>,
}

/// The `[guard]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    upstream: Option<String>,
    resource: Option<String>,
    issuer: Option<OneOrMany>,
    scopes_file: Option<PathBuf>,
    addr: Option<String>,
    allow_origin: Option<OneOrMany>,
    api_key_header: Option<String>,
    redis: Option<String>,
    redis_ca_file: Option<PathBuf>,
    insecure_http: Option<bool>,
    max_body_bytes: Option<usize>,
    max_sessions_per_client: Option<usize>,
    session_idle_timeout: Option<u64>,
    profile: Option<String>,
    audience: Option<OneOrMany>,
    tenant: Option<OneOrMany>,
    jwks_uri: Option<String>,
    introspection_endpoint: Option<String>,
    client_id: Option<String>,
    client_secret_env: Option<String>,
    client_secret_file: Option<PathBuf>,
    scope_claims: Option<OneOrMany>,
    audience_claims: Option<OneOrMany>,
    typ: Option<OneOrMany>,
    required_claims: Option<BTreeMap<String, toml::Value>>,
}

/// The `generic` profile's knobs (only with `profile = "generic"`).
#[derive(Debug, Default, Clone)]
pub(super) struct GenericKnobs {
    pub(super) scope_claims: Option<Vec<String>>,
    pub(super) audience_claims: Option<Vec<String>>,
    pub(super) typ: Option<Vec<String>>,
    pub(super) required_claims: Vec<(String, serde_json::Value)>,
}

impl GenericKnobs {
    fn is_empty(&self) -> bool {
        self.scope_claims.is_none()
            && self.audience_claims.is_none()
            && self.typ.is_none()
            && self.required_claims.is_empty()
    }
}

/// Where the introspection client's secret comes from.
#[derive(Debug, Clone)]
pub(super) enum SecretSource {
    Env(String),
    File(PathBuf),
}

/// Everything the guard runs with, resolved.
#[derive(Debug, Clone)]
pub(super) struct Settings {
    pub(super) upstream: String,
    pub(super) resource: String,
    pub(super) issuers: Vec<String>,
    pub(super) scopes_file: Option<PathBuf>,
    pub(super) addr: String,
    pub(super) allow_origins: Vec<String>,
    pub(super) api_key_header: Option<String>,
    pub(super) redis: Option<String>,
    pub(super) redis_ca_file: Option<PathBuf>,
    pub(super) insecure_http: bool,
    pub(super) max_body_bytes: usize,
    pub(super) max_sessions_per_client: usize,
    pub(super) session_idle_timeout: u64,
    pub(super) profile: String,
    pub(super) audiences: Vec<String>,
    pub(super) tenants: Vec<String>,
    pub(super) jwks_uri: Option<String>,
    pub(super) introspection_endpoint: Option<String>,
    pub(super) client_id: Option<String>,
    pub(super) client_secret: Option<SecretSource>,
    pub(super) generic: GenericKnobs,
}

fn read_table(path: &Path) -> anyhow::Result<Table> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    let file: File = toml::from_str(&text)
        .with_context(|| format!("invalid [guard] table in {}", path.display()))?;
    Ok(file.guard.unwrap_or_default())
}

/// The flag's list if given, else the file's.
fn list(flag: Vec<String>, file: Option<OneOrMany>) -> Vec<String> {
    if flag.is_empty() {
        file.map(OneOrMany::into_vec).unwrap_or_default()
    } else {
        flag
    }
}

fn json_of(v: toml::Value) -> anyhow::Result<serde_json::Value> {
    serde_json::to_value(v).context("a required_claims value cannot be compared as JSON")
}

impl Settings {
    /// The flags over the file (`--config`, else `config` from before the command name) over
    /// the defaults; a missing required setting names its flag and key.
    pub(super) fn resolve(args: GuardArgs, config: Option<PathBuf>) -> anyhow::Result<Self> {
        let t = match args.config.clone().or(config) {
            Some(path) => read_table(&path)?,
            None => Table::default(),
        };
        let need = |v: Option<String>, flag: &str| {
            v.with_context(|| {
                format!(
                    "--{flag} is required (or `{}` in [guard])",
                    flag.replace('-', "_")
                )
            })
        };
        let client_secret = match (
            args.client_secret_env.or(t.client_secret_env),
            args.client_secret_file.or(t.client_secret_file),
        ) {
            (Some(_), Some(_)) => {
                bail!("give --client-secret-env or --client-secret-file, not both")
            }
            (Some(v), None) => Some(SecretSource::Env(v)),
            (None, Some(p)) => Some(SecretSource::File(p)),
            (None, None) => None,
        };
        let required_claims = t
            .required_claims
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| Ok((k, json_of(v)?)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let generic = GenericKnobs {
            scope_claims: t.scope_claims.map(OneOrMany::into_vec),
            audience_claims: t.audience_claims.map(OneOrMany::into_vec),
            typ: t.typ.map(OneOrMany::into_vec),
            required_claims,
        };
        let profile = args
            .profile
            .or(t.profile)
            .unwrap_or_else(|| "rfc9068".to_owned());
        if profile != "generic" && !generic.is_empty() {
            bail!(
                "scope_claims, audience_claims, typ and required_claims are the `generic` profile's \
                 settings (set profile = \"generic\"); profile `{profile}` has its own"
            );
        }
        Ok(Self {
            upstream: need(args.upstream.or(t.upstream), "upstream")?,
            resource: need(args.resource.or(t.resource), "resource")?,
            issuers: list(args.issuers, t.issuer),
            scopes_file: args.scopes_file.or(t.scopes_file),
            addr: args
                .addr
                .or(t.addr)
                .unwrap_or_else(|| "127.0.0.1:8090".to_owned()),
            allow_origins: list(args.allow_origins, t.allow_origin),
            api_key_header: args.api_key_header.or(t.api_key_header),
            redis: args.redis.or(t.redis),
            redis_ca_file: args.redis_ca_file.or(t.redis_ca_file),
            insecure_http: args.insecure_http || t.insecure_http.unwrap_or(false),
            max_body_bytes: args
                .max_body_bytes
                .or(t.max_body_bytes)
                .unwrap_or(mcp_oauth_resource::DEFAULT_MAX_BODY_BYTES),
            max_sessions_per_client: args
                .max_sessions_per_client
                .or(t.max_sessions_per_client)
                .unwrap_or(64),
            session_idle_timeout: args
                .session_idle_timeout
                .or(t.session_idle_timeout)
                .unwrap_or(600),
            profile,
            audiences: list(args.audiences, t.audience),
            tenants: list(args.tenants, t.tenant),
            jwks_uri: args.jwks_uri.or(t.jwks_uri),
            introspection_endpoint: args.introspection_endpoint.or(t.introspection_endpoint),
            client_id: args.client_id.or(t.client_id),
            client_secret,
            generic,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        guard: GuardArgs,
    }

    fn resolve(args: &[&str], file: Option<&str>) -> anyhow::Result<Settings> {
        let dir = tempfile::tempdir()?;
        let mut argv = vec!["guard"];
        argv.extend_from_slice(args);
        let path = dir.path().join("guard.toml");
        if let Some(text) = file {
            std::fs::write(&path, text)?;
        }
        let cli = Cli::try_parse_from(argv)?;
        Settings::resolve(cli.guard, file.map(|_| path))
    }

    const FILE: &str = r#"
[serve]
addr = "0.0.0.0:1"

[guard]
upstream = "http://127.0.0.1:9000/mcp"
resource = "https://mcp.example.com/mcp"
issuer = "https://id.example.com/realms/mcp"
profile = "keycloak"
audience = "mcp-guard"
tenant = ["a", "b"]
addr = "127.0.0.1:7000"
max_sessions_per_client = 8
client_id = "guard"
client_secret_file = "/run/secret"
redis = "rediss://cache.internal:6380/0"
redis_ca_file = "/etc/redis/ca.pem"
"#;

    #[test]
    fn flags_win_over_the_file_over_the_defaults() {
        let s = resolve(&[], Some(FILE)).unwrap();
        assert_eq!(s.profile, "keycloak");
        assert_eq!(s.audiences, ["mcp-guard"]);
        assert_eq!(s.tenants, ["a", "b"]);
        assert_eq!(s.addr, "127.0.0.1:7000");
        assert_eq!(s.max_sessions_per_client, 8);
        assert_eq!(s.session_idle_timeout, 600);
        assert!(matches!(s.client_secret, Some(SecretSource::File(_))));
        assert_eq!(s.redis.as_deref(), Some("rediss://cache.internal:6380/0"));
        assert_eq!(
            s.redis_ca_file.as_deref(),
            Some(std::path::Path::new("/etc/redis/ca.pem"))
        );
        let s = resolve(
            &[
                "--addr",
                "127.0.0.1:0",
                "--audience",
                "x",
                "--audience",
                "y",
                "--profile",
                "okta",
                "--redis",
                "redis://127.0.0.1:6379",
            ],
            Some(FILE),
        )
        .unwrap();
        assert_eq!(s.redis.as_deref(), Some("redis://127.0.0.1:6379"));
        assert_eq!(s.addr, "127.0.0.1:0");
        assert_eq!(s.audiences, ["x", "y"], "a flag list replaces the file's");
        assert_eq!(s.profile, "okta");
        assert_eq!(s.issuers, ["https://id.example.com/realms/mcp"]);
    }

    #[test]
    fn refusals_name_the_setting() {
        let e = resolve(&["--resource", "https://r"], None).unwrap_err();
        assert!(
            e.to_string()
                .contains("--upstream is required (or `upstream` in [guard])")
        );
        let e = resolve(&[], Some("[guard]\nupstrem = \"x\"\n")).unwrap_err();
        assert!(
            format!("{e:#}").contains("unknown field `upstrem`"),
            "{e:#}"
        );
        let e = resolve(&[], Some(&format!("{FILE}scope_claims = [\"perms\"]\n"))).unwrap_err();
        assert!(
            e.to_string().contains("`generic` profile's settings"),
            "{e}"
        );
        let e = resolve(&["--client-secret-env", "S"], Some(FILE)).unwrap_err();
        assert!(e.to_string().contains("not both"), "{e}");
    }

    #[test]
    fn generic_knobs() {
        let file = "[guard]\nupstream = \"http://127.0.0.1:1/mcp\"\nresource = \"https://r\"\n\
                    profile = \"generic\"\nscope_claims = \"perms\"\ntyp = [\"JWT\", \"none\"]\n\
                    required_claims = { token_use = \"access\", ver = 2 }\n";
        let s = resolve(&[], Some(file)).unwrap();
        assert_eq!(
            s.generic.scope_claims.as_deref(),
            Some(&["perms".to_owned()][..])
        );
        assert_eq!(s.generic.typ.as_deref().map(<[String]>::len), Some(2));
        assert_eq!(
            s.generic.required_claims,
            vec![
                ("token_use".to_owned(), serde_json::json!("access")),
                ("ver".to_owned(), serde_json::json!(2)),
            ]
        );
    }
}
