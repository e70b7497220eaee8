//! `mcp-oauth serve`: the authorization server on SQLite, with an optional guided demo.

use crate::GlobalArgs;
use crate::{data, settings};
use anyhow::{Context, bail};
use axum::serve::ListenerExt;
use mcp_oauth_core::clock::{Clock, SystemClock};
use mcp_oauth_core::secret::Secret;
use mcp_oauth_server::AuthorizationServer;
use mcp_oauth_server::admin::{self, NewClient};
use mcp_oauth_server::store::{Location, Store};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Options of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    #[arg(long, env = "MCP_OAUTH_ADDR")]
    addr: Option<String>,
    /// The issuer URL (default: http(s)://ADDR). Must be https, or http on loopback.
    #[arg(long, env = "MCP_OAUTH_ISSUER")]
    issuer: Option<String>,
    /// The five-minute tour: demo user `demo`/`demo`, a demo public client and resource, and
    /// a session cookie that works over plain http on loopback.
    #[arg(long, env = "MCP_OAUTH_DEV")]
    dev: bool,
    /// Also serve a demo MCP server at `{issuer}/mcp`, guarded by OAuth (implies --dev).
    #[arg(long, env = "MCP_OAUTH_DEMO")]
    demo: bool,
    /// Conformance testing ONLY: requests to the demo MCP server without a token skip the bearer
    /// guard (the Origin guard stays on); the harness's fixtures are listed (implies --demo).
    /// Needs a binary built with `--features conformance`.
    #[arg(long, env = "MCP_OAUTH_DEMO_PUBLIC")]
    demo_public: bool,
    /// Serve HTTPS with this certificate chain (PEM).
    #[arg(long, env = "MCP_OAUTH_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key for --tls-cert (PEM).
    #[arg(long, env = "MCP_OAUTH_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Dynamic client registration: `open` (default), `token` (an initial access token from
    /// `mcp-oauth registration-tokens add` is required) or `off`.
    #[arg(long, value_parser = ["open", "token", "off"])]
    registration: Option<String>,
    /// Also serve `GET /metrics`, without a token, on this separate address (keep it private,
    /// e.g. `127.0.0.1:9090`). The main listener serves it only with `metrics_token_file` /
    /// `MCP_OAUTH_METRICS_TOKEN`, or in --dev.
    #[arg(long, env = "MCP_OAUTH_METRICS_ADDR")]
    metrics_addr: Option<String>,
    /// Share the rate limits, the login back-off and the single-use client-assertion and DPoP
    /// `jti`s with the other instances on this Redis (`redis://HOST:PORT/DB`, `rediss://` for
    /// TLS; the configuration key `redis_url`, `MCP_OAUTH_REDIS_URL`). Needed when several
    /// instances serve one issuer; see docs/deployment.md.
    #[arg(long, value_name = "URL")]
    redis: Option<String>,
    /// The CA certificates (PEM) a `rediss://` Redis's certificate must chain to, instead of the
    /// system's trust store (the configuration key `redis_ca_file`, `MCP_OAUTH_REDIS_CA_FILE`).
    #[arg(long, value_name = "PEM")]
    redis_ca_file: Option<std::path::PathBuf>,
}

/// The client id of the demo public client.
pub const DEMO_CLIENT_ID: &str = "demo-client";

pub async fn run(global: &GlobalArgs, args: ServeArgs) -> anyhow::Result<()> {
    if args.demo_public && !cfg!(feature = "conformance") {
        bail!(
            "--demo-public serves the conformance harness's fixtures, which this binary was built without: build it with `cargo build -p mcp-oauth --features conformance`"
        );
    }
    let settings = settings::read_file(global.config.as_deref())?;
    let file = &settings.own;
    let addr = args
        .addr
        .or(file.addr.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let addr: SocketAddr = addr
        .parse()
        .with_context(|| format!("invalid configuration `addr`: `{addr}` is not HOST:PORT"))?;
    let demo = args.demo || args.demo_public;
    let dev = args.dev || demo || file.dev.unwrap_or(false);
    if dev {
        dev_only_on_loopback(addr)?;
    }
    let tls = match (
        args.tls_cert.or(file.tls_cert.clone()),
        args.tls_key.or(file.tls_key.clone()),
    ) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => bail!("invalid configuration: `tls_cert` and `tls_key` go together"),
    };
    let listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    // Defaults ← file ← MCP_OAUTH_* variables (ServerConfig's own keys), then the flags.
    let mut config = settings.server_config()?;
    if let Some(issuer) = args.issuer {
        config.issuer = issuer;
    }
    if config.issuer.trim().is_empty() {
        if local.ip().is_unspecified() {
            bail!(
                "invalid configuration `issuer`: listening on {local} needs an explicit --issuer (the URL clients use)"
            );
        }
        config.issuer = format!("{scheme}://{local}");
    }
    config.dev = dev;
    if let Some(url) = args.redis {
        config.redis_url = mcp_oauth_server::config::RedisUrl::new(url);
    }
    if let Some(ca) = args.redis_ca_file {
        config.redis_ca_file = Some(ca);
    }
    if let Some(policy) = &args.registration {
        config.registration = policy
            .parse()
            .map_err(|e| anyhow::anyhow!("invalid value for --registration: {e}"))?;
    }
    let config = config.validate()?;
    if dev {
        dev_only_on_plain_http(config.is_https())?;
    }
    if !config.is_https() && !dev {
        tracing::warn!(target: "mcp_oauth::serve", issuer = %config.issuer, "plain-http issuer: fine on this machine, use https anywhere else");
    }
    let dir = data::dir(global.data_dir.as_deref(), file.data_dir.as_deref());
    let database = data::database(global.database.as_deref(), file.database.as_deref());
    let location = Location::new(database, &dir)?;
    let store = location.open().await?;
    if database.is_some() && std::env::var_os("MCP_OAUTH_KEK").is_none() {
        tracing::warn!(target: "mcp_oauth::serve", "PostgreSQL without MCP_OAUTH_KEK: every instance on this database needs the same key-encryption key (set MCP_OAUTH_KEK on all of them)");
    }
    let kek = data::load_kek(&dir)?;
    let clock = Arc::new(SystemClock);
    let issuer = config.issuer.clone();
    if config.redis_url.is_set() {
        tracing::info!(target: "mcp_oauth::serve", redis = %config.redis_url.redacted(), timeout_ms = config.redis_timeout_ms, "rate limits, login back-off and single-use jtis shared on Redis");
    }
    let server = AuthorizationServer::new(config, store.clone(), kek, clock.clone())
        .await
        .map_err(|e| match e {
            mcp_oauth_server::StartError::Keys(_) => anyhow::Error::new(e).context(
                "cannot load the signing keys (is MCP_OAUTH_KEK the key this data directory was created with?)",
            ),
            other => anyhow::Error::new(other),
        })?;
    if dev {
        seed_demo(store.as_ref(), &issuer, clock.now()).await?;
    }
    // The console at /console signs in as this public client, for this resource.
    mcp_oauth_server::console::ensure(store.as_ref(), &issuer, clock.now())
        .await
        .context("cannot register the console's client")?;
    let maintenance = server.spawn_maintenance(Duration::from_secs(60));
    let mut router = server.router();
    if dev {
        router = router.merge(crate::dev_callback::router(
            &issuer,
            server.state().config().issuer_path(),
            DEMO_CLIENT_ID,
            &crate::demo::resource_uri(&issuer),
        ));
    }
    let mut mcp_url = None;
    if demo {
        let (routes, url) = crate::demo::router(&issuer, args.demo_public, server.state().clone())?;
        router = router.merge(routes);
        mcp_url = Some(url);
        if args.demo_public {
            tracing::warn!(target: "mcp_oauth::serve", "--demo-public: the demo MCP server answers WITHOUT a token (conformance testing only)");
        }
    }
    let metrics_task = match args.metrics_addr.or(file.metrics_addr.clone()) {
        Some(a) => Some(serve_metrics(&server, &a).await?),
        None => None,
    };
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    let key_reload = server.spawn_key_reload(server.state().config().key_reload_period());
    println!("mcp-oauth listening on {scheme}://{local}");
    println!("issuer: {issuer}");
    println!("data directory: {}", dir.display());
    if let Location::Postgres(_) = location {
        println!("database: {location}");
    }
    if dev {
        print_tour(&issuer);
        println!("console: {issuer}/console/ (sign in as demo / demo)");
    }
    if let Some(url) = &mcp_url {
        println!("MCP server: {url}");
        println!(
            "  (tools need mcp:tools, system_info system:read, reset_counter mcp:admin; resources mcp:resources; prompts mcp:prompts)"
        );
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let result = match tls {
        None => {
            // TCP_NODELAY: responses are written in several small writes (an SSE stream's
            // events, for one), and with Nagle on the second one waits for the peer's delayed
            // ACK, about 40 ms on Linux.
            let listener = tokio::net::TcpListener::from_std(listener)?.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            axum::serve(listener, app)
                .with_graceful_shutdown(crate::signal::shutdown("serve"))
                .await
                .context("the server stopped")
        }
        Some((cert, key)) => {
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                .await
                .with_context(|| {
                    format!(
                        "cannot load TLS certificate {} / key {}",
                        cert.display(),
                        key.display()
                    )
                })?;
            let handle = axum_server::Handle::new();
            let h = handle.clone();
            tokio::spawn(async move {
                crate::signal::shutdown("serve").await;
                h.graceful_shutdown(Some(Duration::from_secs(10)));
            });
            axum_server::from_tcp_rustls(listener, tls)
                .map(|tls| tls.acceptor(axum_server::accept::NoDelayAcceptor::new()))
                .handle(handle)
                .serve(app)
                .await
                .context("the server stopped")
        }
    };
    maintenance.abort();
    key_reload.abort();
    if let Some(t) = metrics_task {
        t.abort();
    }
    result
}

/// Binds the separate metrics listener and serves `/metrics` on it.
async fn serve_metrics(
    server: &AuthorizationServer,
    addr: &str,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let addr: SocketAddr = addr.parse().with_context(|| {
        format!("invalid configuration `metrics_addr`: `{addr}` is not HOST:PORT")
    })?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for metrics"))?;
    println!("metrics: http://{}/metrics", listener.local_addr()?);
    let app = server.metrics_router();
    Ok(tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    }))
}

/// `--dev` creates the account `demo`/`demo`, which anyone who can reach the server could use:
/// it is refused on an `https` issuer (a deployment) and on a listener other than loopback,
/// before anything is bound or written.
fn dev_only_on_plain_http(https: bool) -> anyhow::Result<()> {
    if https {
        bail!(
            "--dev creates the account demo/demo and is for a plain-http issuer on this machine only; this issuer is https. Create real accounts with `mcp-oauth users add` instead"
        );
    }
    Ok(())
}

/// See [`dev_only_on_plain_http`].
fn dev_only_on_loopback(local: SocketAddr) -> anyhow::Result<()> {
    if !local.ip().is_loopback() {
        bail!(
            "--dev creates the account demo/demo and is for loopback only; listening on {local} would let anyone who can reach it sign in. Use --addr 127.0.0.1:PORT, or create real accounts with `mcp-oauth users add`"
        );
    }
    Ok(())
}

/// Creates the demo user, client and resource unless they exist, and makes sure the demo client
/// may be sent to this issuer's callback page (the data directory may come from a run with
/// another issuer).
async fn seed_demo(store: &dyn Store, issuer: &str, now: i64) -> anyhow::Result<()> {
    if store.get_user_by_name("demo").await?.is_none() {
        // Role `admin`: the demo resource restricts `mcp:admin` to it, and the tour's step-up
        // (reset_counter) needs the demo user to be able to approve it.
        admin::add_user_with_roles(store, "demo", Secret::new("demo"), &["admin".into()], now)
            .await?;
    }
    let uri = crate::demo::resource_uri(issuer);
    if store.get_resource(&uri).await?.is_none() {
        let scopes = [
            "mcp:tools=Use the server's tools",
            "mcp:resources=Read the server's resources",
            "mcp:prompts=Use the server's prompts",
            "system:read=Read system information",
            "mcp:admin=Run administrative tools (reset the counter)",
        ]
        .iter()
        .map(|s| admin::parse_scope_def(s))
        .collect::<Result<Vec<_>, _>>()?;
        let mut scopes = scopes;
        admin::roles::restrict(&mut scopes, &["mcp:admin=admin".into()])?;
        admin::add_resource(store, &uri, "Demo MCP server", scopes, now).await?;
    }
    let callback = crate::dev_callback::url(issuer);
    match store.get_client(DEMO_CLIENT_ID).await? {
        None => {
            admin::add_client(
                store,
                NewClient {
                    name: "Demo client".into(),
                    redirect_uris: vec![
                        "http://127.0.0.1/callback".into(),
                        "http://localhost/callback".into(),
                        "http://[::1]/callback".into(),
                        callback,
                    ],
                    public: true,
                    client_id: Some(DEMO_CLIENT_ID.into()),
                    ..Default::default()
                },
                now,
            )
            .await?;
        }
        Some(mut client)
            if !mcp_oauth_core::redirect::matches_any(
                client.redirect_uris.iter().map(String::as_str),
                &callback,
            ) =>
        {
            client.redirect_uris.push(callback);
            store.update_client(&client).await?;
        }
        Some(_) => {}
    }
    Ok(())
}

/// The tour's authorization URL: the demo client, sent back to the callback page, with the
/// tour's PKCE challenge.
fn tour_authorization_url(issuer: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", DEMO_CLIENT_ID)
        .append_pair("redirect_uri", &crate::dev_callback::url(issuer))
        .append_pair("scope", "mcp:tools")
        .append_pair("resource", &crate::demo::resource_uri(issuer))
        .append_pair("state", "xyz")
        .append_pair("code_challenge", crate::dev_callback::TOUR_CHALLENGE)
        .append_pair("code_challenge_method", "S256")
        .finish();
    format!("{issuer}/authorize?{query}")
}

fn print_tour(issuer: &str) {
    let resource = crate::demo::resource_uri(issuer);
    println!(
        "
Development mode: demo user `demo` (password `demo`), public client `{DEMO_CLIENT_ID}`, resource {resource}

Try:
  curl -s {issuer}/.well-known/oauth-authorization-server
  curl -s {issuer}/jwks
  Open in a browser (sign in as demo/demo, then approve):
  {url}
  The browser comes back to {callback}, which shows the code and the curl command that redeems it.
",
        url = tour_authorization_url(issuer),
        callback = crate::dev_callback::url(issuer),
    );
}
