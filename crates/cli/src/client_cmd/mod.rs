//! The MCP OAuth client commands: `login`, `token`, `logout`, `status`, `tools`, `call`.
//!
//! Credentials live in a [`FileStore`] in the platform config directory (0600, atomic rename)
//! unless `--store memory`, `--store keychain` (the OS keychain: Secret Service, macOS Keychain,
//! Windows Credential Manager) or `--credentials FILE` says otherwise. Nothing secret is printed,
//! except the access token `token` is asked to print.

mod args;
mod explain;
mod mcp;
mod progress;
mod prompt;

pub use args::{
    CallArgs, ConnectArgs, LoginArgs, LogoutArgs, SignInArgs, StatusArgs, StoreArgs, StoreKind,
    TokenArgs, ToolsArgs,
};
pub use explain::check_server_url;
pub use mcp::{call, tools};

use crate::GlobalArgs;
use crate::output::{emit, table, time};
use anyhow::{Context, bail};
use explain::{Doing, explain};
use mcp_oauth_client::assertion::load_private_key_file;
use mcp_oauth_client::{
    ClientAuth, ClientConfig, ClientRegistration, CredentialStore, FileStore, GrantMode,
    KeychainStore, MemoryStore, TokenManager,
};
use mcp_oauth_core::secret::Secret;
use mcp_oauth_core::uri::{UriParts, is_loopback_host};
use progress::Progress;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

fn open_store(args: &StoreArgs) -> anyhow::Result<Arc<dyn CredentialStore>> {
    Ok(match args.store {
        StoreKind::Memory => Arc::new(MemoryStore::new()),
        StoreKind::File => {
            let path = match &args.credentials {
                Some(p) => p.clone(),
                None => FileStore::default_path()?,
            };
            Arc::new(FileStore::new(path))
        }
        StoreKind::Keychain => {
            let lock_dir = match &args.credentials {
                Some(p) => p
                    .parent()
                    .map(std::path::Path::to_path_buf)
                    .unwrap_or_default(),
                None => KeychainStore::default_lock_dir()?,
            };
            Arc::new(KeychainStore::new(lock_dir))
        }
    })
}

fn is_loopback_http(url: &str) -> bool {
    UriParts::split(url)
        .is_some_and(|p| p.scheme.eq_ignore_ascii_case("http") && is_loopback_host(p.host()))
}

fn client_auth(args: &ConnectArgs) -> anyhow::Result<ClientAuth> {
    if let Some(var) = &args.client_secret_env {
        let secret = std::env::var(var).with_context(|| {
            format!("--client-secret-env: environment variable {var} is not set")
        })?;
        return Ok(ClientAuth::Secret(Secret::new(secret)));
    }
    if let Some(path) = &args.private_key {
        let key = load_private_key_file(path, None)
            .with_context(|| format!("--private-key {}", path.display()))?;
        return Ok(ClientAuth::PrivateKeyJwt(Arc::new(key)));
    }
    Ok(ClientAuth::None)
}

/// The grant the flags ask for.
fn grant(connect: &ConnectArgs, sign_in: Option<&SignInArgs>) -> anyhow::Result<GrantMode> {
    if sign_in.is_some_and(|s| s.device) {
        return Ok(GrantMode::DeviceCode);
    }
    if !sign_in.is_some_and(|s| s.client_credentials) {
        return Ok(GrantMode::AuthorizationCode);
    }
    if connect.client_secret_env.is_none() && connect.private_key.is_none() {
        bail!("--client-credentials needs --client-secret-env VAR or --private-key FILE");
    }
    Ok(GrantMode::ClientCredentials)
}

/// Builds the token manager for `url` from the flags (`sign_in` absent: a command that never
/// obtains a token, such as `logout`).
pub fn manager(
    url: &str,
    connect: &ConnectArgs,
    sign_in: Option<&SignInArgs>,
) -> anyhow::Result<Arc<TokenManager>> {
    check_server_url(url)?;
    let grant = grant(connect, sign_in)?;
    let mut config = ClientConfig::new()
        .allow_insecure_http(connect.insecure_http || is_loopback_http(url))
        .timeout(Duration::from_secs(connect.request_timeout.max(1)))
        .grant(grant);
    if let Some(id) = &connect.client_id {
        config = config.pre_registered(ClientRegistration::pre_registered(
            id.clone(),
            client_auth(connect)?,
        ));
    }
    let mut paste = false;
    if let Some(s) = sign_in {
        if let Some(scope) = &s.scope {
            config = config.scope(scope.clone());
        }
        if let Some(u) = &s.client_metadata_url {
            config = config.client_metadata_document_url(u.clone());
        }
        config = config
            .callback_timeout(Duration::from_secs(s.timeout.max(1)))
            .dpop(s.dpop);
        paste = s.no_browser;
    }
    let prompt = Arc::new(prompt::CliPrompt {
        paste,
        url: url.to_owned(),
    });
    Ok(Arc::new(
        TokenManager::builder(config)
            .store(open_store(&connect.store)?)
            .prompt(prompt)
            .build()?,
    ))
}

/// What was being done, for the error line.
fn doing<'a>(m: &TokenManager, what: String, url: &'a str, connect: &ConnectArgs) -> Doing<'a> {
    Doing {
        what,
        resource: m.last_discovery(url).map(|d| d.resource),
        url,
        named_client: connect.client_id.is_some(),
    }
}

/// A valid token for `url`: the stored one (refreshed as needed), else a sign-in, which fails
/// at once when nobody can answer it.
async fn obtain(
    m: &TokenManager,
    url: &str,
    sign_in: &SignInArgs,
    grant: &GrantMode,
) -> anyhow::Result<String> {
    let _p = Progress::start(format!("Connecting to {url}…"));
    if let Some(t) = m.cached_token(url).await? {
        return Ok(t);
    }
    if matches!(grant, GrantMode::AuthorizationCode) && prompt::cannot_prompt(sign_in.no_browser) {
        return Err(crate::output::explained(prompt::unattended_hint(url), None));
    }
    Ok(m.bearer_token(url).await?)
}

/// A redacted view of the token this identity has for `url`.
async fn stored_view(manager: &TokenManager, url: &str) -> anyhow::Result<serde_json::Value> {
    let Some((key, tok)) = manager.stored_token(url).await? else {
        bail!("no token is stored for {url}");
    };
    Ok(json!({
        "server_url": tok.server_url,
        "issuer": key.issuer,
        "resource": key.resource,
        "client_id": key.client_id,
        "grant": key.grant,
        "scope": tok.scope,
        "expires_at": tok.expires_at,
        "refreshable": tok.refresh_token.is_some(),
    }))
}

/// `login`.
pub async fn login(global: &GlobalArgs, args: LoginArgs) -> anyhow::Result<()> {
    let m = manager(&args.url, &args.connect, Some(&args.sign_in))?;
    let grant = grant(&args.connect, Some(&args.sign_in))?;
    let run = async {
        let _p = Progress::start(format!("Discovering how to sign in to {}…", args.url));
        if matches!(grant, GrantMode::AuthorizationCode)
            && prompt::cannot_prompt(args.sign_in.no_browser)
        {
            return Err(crate::output::explained(
                prompt::unattended_hint(&args.url),
                None,
            ));
        }
        m.login(&args.url).await.map_err(anyhow::Error::from)
    };
    run.await.map_err(|e| {
        explain(
            e,
            &doing(
                &m,
                format!("sign in to {}", args.url),
                &args.url,
                &args.connect,
            ),
        )
    })?;
    let view = stored_view(&m, &args.url).await?;
    emit(global.json, &view, || {
        format!(
            "Logged in to {} (authorization server {}, scope {}, {}).",
            args.url,
            view["issuer"].as_str().unwrap_or("?"),
            view["scope"].as_str().unwrap_or("(none)"),
            view["expires_at"]
                .as_i64()
                .map(|t| format!("access token valid until {}", time(t)))
                .unwrap_or_else(|| "no expiry given".to_owned()),
        )
    })
}

/// `token`: prints a valid access token.
pub async fn token(global: &GlobalArgs, args: TokenArgs) -> anyhow::Result<()> {
    let m = manager(&args.url, &args.connect, Some(&args.sign_in))?;
    let grant = grant(&args.connect, Some(&args.sign_in))?;
    let token = obtain(&m, &args.url, &args.sign_in, &grant)
        .await
        .map_err(|e| {
            explain(
                e,
                &doing(
                    &m,
                    format!("get a token for {}", args.url),
                    &args.url,
                    &args.connect,
                ),
            )
        })?;
    if global.json {
        let mut view = stored_view(&m, &args.url).await?;
        view["access_token"] = json!(token);
        println!("{}", serde_json::to_string_pretty(&view)?);
    } else {
        println!("{token}");
    }
    Ok(())
}

/// `logout`: revokes at the AS and forgets; with `--client-id`, only that client's tokens.
pub async fn logout(global: &GlobalArgs, args: LogoutArgs) -> anyhow::Result<()> {
    let m = manager(&args.url, &args.connect, None)?;
    let named = args.connect.client_id.clone();
    let results = m
        .revoke_and_forget_where(&args.url, |k| {
            named.as_deref().is_none_or(|id| id == k.client_id)
        })
        .await
        .map_err(|e| {
            explain(
                e.into(),
                &doing(
                    &m,
                    format!("log out of {}", args.url),
                    &args.url,
                    &args.connect,
                ),
            )
        })?;
    let views: Vec<_> = results
        .iter()
        .map(|r| {
            json!({
                "issuer": r.key.issuer,
                "resource": r.key.resource,
                "client_id": r.key.client_id,
                "grant": r.key.grant,
                "revoked": matches!(r.outcome, Ok(true)),
                "error": r.outcome.as_ref().err(),
            })
        })
        .collect();
    emit(
        global.json,
        &json!({"server_url": args.url, "forgotten": views}),
        || logout_text(&args.url, &results),
    )
}

/// What `logout` did, one line per token.
fn logout_text(url: &str, results: &[mcp_oauth_client::Revocation]) -> String {
    if results.is_empty() {
        return format!("Nothing was stored for {url}.");
    }
    results
        .iter()
        .map(|r| {
            let what = format!(
                "the token for {} (client {}{})",
                r.key.resource,
                r.key.client_id,
                r.key
                    .grant
                    .as_deref()
                    .map(|g| format!(", {g}"))
                    .unwrap_or_default()
            );
            match &r.outcome {
                Ok(true) => format!("Revoked {what} at {} and forgot it.", r.key.issuer),
                Ok(false) => format!(
                    "Forgot {what}; {} has no revocation endpoint, so it stays valid until it expires.",
                    r.key.issuer
                ),
                Err(e) => format!(
                    "Forgot {what}; revoking it at {} failed ({e}), so it stays valid until it expires.",
                    r.key.issuer
                ),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where a store keeps things, for `status`.
fn store_location(args: &StoreArgs) -> String {
    match args.store {
        StoreKind::Memory => "memory".to_owned(),
        StoreKind::Keychain => "the OS keychain".to_owned(),
        StoreKind::File => args
            .credentials
            .clone()
            .or_else(|| FileStore::default_path().ok())
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "the credentials file".to_owned()),
    }
}

/// `status`: stored credentials, redacted.
pub async fn status(global: &GlobalArgs, args: StatusArgs) -> anyhow::Result<()> {
    let store = open_store(&args.store)?;
    let now = mcp_oauth_core::clock::Clock::now(&mcp_oauth_core::clock::SystemClock);
    let mut tokens = store.all_tokens().await?;
    tokens.sort_by(|a, b| a.1.server_url.cmp(&b.1.server_url));
    let regs = store.all_registrations().await?;
    let token_views: Vec<_> = tokens
        .iter()
        .map(|(k, t)| {
            json!({
                "server_url": t.server_url,
                "issuer": k.issuer,
                "resource": k.resource,
                "client_id": k.client_id,
                "grant": k.grant,
                "scope": t.scope,
                "expires_at": t.expires_at,
                "expired": t.expires_at.is_some_and(|e| e <= now),
                "refreshable": t.refresh_token.is_some(),
                "access_token": "[redacted]",
            })
        })
        .collect();
    let reg_views: Vec<_> = regs
        .iter()
        .map(|r| {
            json!({
                "issuer": r.issuer,
                "client_id": r.client_id,
                "token_endpoint_auth_method": r.token_endpoint_auth_method,
                "has_secret": r.client_secret.is_some(),
            })
        })
        .collect();
    let location = store_location(&args.store);
    emit(
        global.json,
        &json!({"tokens": token_views, "registrations": reg_views}),
        || {
            let mut out = Vec::new();
            if tokens.is_empty() {
                out.push(format!("No tokens are stored ({location})."));
            } else {
                out.push(format!("Tokens ({location}):"));
                out.push(table(
                    &[
                        "SERVER", "ISSUER", "CLIENT", "GRANT", "SCOPE", "EXPIRES", "REFRESH",
                    ],
                    &tokens
                        .iter()
                        .map(|(k, t)| {
                            vec![
                                t.server_url.clone(),
                                k.issuer.clone(),
                                k.client_id.clone(),
                                k.grant.clone().unwrap_or_else(|| "-".into()),
                                t.scope.clone().unwrap_or_default(),
                                t.expires_at.map(time).unwrap_or_else(|| "-".into()),
                                if t.refresh_token.is_some() {
                                    "yes"
                                } else {
                                    "no"
                                }
                                .to_owned(),
                            ]
                        })
                        .collect::<Vec<_>>(),
                ));
            }
            if !regs.is_empty() {
                out.push(String::new());
                out.push(
                    "Client registrations kept for the next sign-in (`logout` keeps them):"
                        .to_owned(),
                );
                out.push(table(
                    &["ISSUER", "CLIENT", "AUTH", "SECRET"],
                    &regs
                        .iter()
                        .map(|r| {
                            vec![
                                r.issuer.clone(),
                                r.client_id.clone(),
                                r.token_endpoint_auth_method.clone(),
                                if r.client_secret.is_some() {
                                    "yes"
                                } else {
                                    "no"
                                }
                                .to_owned(),
                            ]
                        })
                        .collect::<Vec<_>>(),
                ));
            }
            out.join("\n")
        },
    )
}
