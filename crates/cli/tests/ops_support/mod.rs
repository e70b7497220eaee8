//! Shared by the operations tests: `serve` processes on loopback, the admin commands, and a
//! browser-like client for the login and consent forms.

#![allow(dead_code)]

use reqwest::StatusCode;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_mcp-oauth");
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub const CLIENT: &str = "ops-app";
pub const REDIRECT: &str = "http://127.0.0.1:4567/callback";
pub const INTROSPECTOR: &str = "ops-rs";
pub const RESOURCE: &str = "https://mcp.ops.example/mcp";
pub const USER: &str = "olga";
pub const PASSWORD: &str = "correct horse battery";
/// Every instance of one deployment shares the issuer (a load balancer's name).
pub const ISSUER: &str = "http://127.0.0.1:9";

/// Where one deployment keeps its state: a data directory (always: SQLite, or just a KEK file
/// that the tests override with `MCP_OAUTH_KEK`) and optionally a PostgreSQL URL.
pub struct Deployment {
    pub dir: PathBuf,
    pub database: Option<String>,
    pub kek: String,
    pub envs: Vec<(String, String)>,
}

impl Deployment {
    /// A fresh KEK (32 random bytes, base64url).
    pub fn new(dir: &Path, database: Option<String>) -> Self {
        use base64::Engine;
        let kek =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        Self {
            dir: dir.to_path_buf(),
            database,
            kek,
            envs: Vec::new(),
        }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("--data-dir").arg(&self.dir);
        if let Some(db) = &self.database {
            cmd.arg("--database").arg(db);
        }
        for var in [
            "MCP_OAUTH_DATABASE",
            "MCP_OAUTH_CONFIG",
            "MCP_OAUTH_DATA_DIR",
            "MCP_OAUTH_ISSUER",
            "MCP_OAUTH_ADDR",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("MCP_OAUTH_KEK", &self.kek)
            .env("MCP_OAUTH_LOG", "error");
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs an admin command with `--json`, asserting success; its JSON output.
    pub fn admin(&self, args: &[&str], stdin: Option<&str>) -> Value {
        let mut child = self
            .command()
            .arg("--json")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
        drop(input);
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "mcp-oauth {args:?} failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(stdout.trim()).unwrap_or(Value::Null)
    }

    /// Seeds a user, a public client, a confidential introspection client and a resource;
    /// returns the introspection client's secret.
    pub fn seed(&self) -> String {
        self.admin(
            &["users", "add", USER, "--password-stdin"],
            Some(&format!("{PASSWORD}\n")),
        );
        self.admin(
            &[
                "resources",
                "add",
                RESOURCE,
                "--name",
                "Ops MCP",
                "--scope",
                "mcp:tools=Use tools",
            ],
            None,
        );
        self.admin(
            &[
                "clients",
                "add",
                "--name",
                "Ops app",
                "--public",
                "--client-id",
                CLIENT,
                "--redirect-uri",
                "http://127.0.0.1/callback",
                "--grant",
                "authorization_code",
                "--grant",
                "refresh_token",
            ],
            None,
        );
        let rs = self.admin(
            &[
                "clients",
                "add",
                "--name",
                "Resource server",
                "--client-id",
                INTROSPECTOR,
                "--grant",
                "client_credentials",
                "--introspect",
                "--resource",
                RESOURCE,
            ],
            None,
        );
        rs["client_secret"].as_str().unwrap().to_owned()
    }

    /// Starts `serve` on 127.0.0.1:0 and waits for its address.
    pub fn serve(&self) -> Instance {
        let mut child = self
            .command()
            .args(["serve", "--addr", "127.0.0.1:0", "--issuer", ISSUER])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // Keeps draining stdout until the process ends, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("mcp-oauth listening on ") {
                    let _ = tx.send(rest.trim().to_owned());
                }
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("serve printed its address");
        Instance {
            child,
            base,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }
}

/// A running `serve`, killed by pid when dropped.
pub struct Instance {
    pub child: Child,
    pub base: String,
    pub http: reqwest::Client,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Instance {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Kills the process with SIGKILL (`Child::kill` on unix) and reaps it.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends SIGKILL to the process by pid (usable while requests are in flight on other
    /// tasks); dropping the value reaps it.
    pub fn sigkill(&self) {
        let status = Command::new("kill")
            .args(["-KILL", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -KILL {}", self.child.id());
    }

    /// Runs authorize → login → consent in a fresh browser session; the authorization code.
    pub async fn code(&self) -> Result<String, String> {
        let q = [
            ("response_type", "code"),
            ("client_id", CLIENT),
            ("redirect_uri", REDIRECT),
            ("scope", "mcp:tools"),
            ("state", "st"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("resource", RESOURCE),
        ];
        let mut b = Browser {
            http: &self.http,
            base: &self.base,
            cookie: None,
        };
        let url = format!(
            "{}?{}",
            self.url("/authorize"),
            serde_urlencoded::to_string(q).unwrap()
        );
        let page = b.get(&url).await?;
        if page.status != StatusCode::OK {
            return Err(format!("login page: {} {}", page.status, page.body));
        }
        let csrf = page.hidden("csrf_token")?;
        let aq = page.hidden("authorize_query")?;
        let next = b
            .post(
                "/login",
                &[
                    ("csrf_token", &csrf),
                    ("authorize_query", &aq),
                    ("username", USER),
                    ("password", PASSWORD),
                ],
            )
            .await?;
        let done = if next.status == StatusCode::SEE_OTHER {
            next
        } else {
            if next.status != StatusCode::OK {
                return Err(format!("consent page: {} {}", next.status, next.body));
            }
            let csrf = next.hidden("csrf_token")?;
            b.post(
                "/consent",
                &[
                    ("csrf_token", &csrf),
                    ("authorize_query", &aq),
                    ("approve", "1"),
                ],
            )
            .await?
        };
        let loc = done
            .location
            .ok_or_else(|| format!("no redirect: {} {}", done.status, done.body))?;
        query_param(&loc, "code").ok_or_else(|| format!("no code in {loc}"))
    }

    /// Exchanges a code; the token response (or the error status and body).
    pub async fn exchange(&self, code: &str) -> Result<Value, (u16, String)> {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("resource", RESOURCE),
        ])
        .await
    }

    /// Refreshes; the token response (or the error status and body; status 0 when no response
    /// arrived).
    pub async fn refresh(&self, refresh_token: &str) -> Result<Value, (u16, String)> {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT),
            ("refresh_token", refresh_token),
            ("resource", RESOURCE),
        ])
        .await
    }

    async fn token(&self, form: &[(&str, &str)]) -> Result<Value, (u16, String)> {
        let r = self
            .http
            .post(self.url("/token"))
            .form(form)
            .send()
            .await
            .map_err(|e| (0, e.to_string()))?;
        let status = r.status().as_u16();
        let body = r.text().await.map_err(|e| (0, e.to_string()))?;
        if status == 200 {
            serde_json::from_str(&body).map_err(|e| (0, e.to_string()))
        } else {
            Err((status, body))
        }
    }

    /// Introspects with the resource server's credentials.
    pub async fn introspect(&self, secret: &str, token: &str) -> Value {
        let r = self
            .http
            .post(self.url("/introspect"))
            .basic_auth(INTROSPECTOR, Some(secret))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// Revokes a token (public client: no secret).
    pub async fn revoke(&self, token: &str) {
        let r = self
            .http
            .post(self.url("/revoke"))
            .form(&[("client_id", CLIENT), ("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    /// The kids this instance publishes.
    pub async fn kids(&self) -> Vec<String> {
        let jwks: Value = self
            .http
            .get(self.url("/jwks"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// A response as a browser sees it.
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    fn hidden(&self, name: &str) -> Result<String, String> {
        let needle = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&needle)
            .ok_or_else(|| format!("no {name} in {}", self.body))?
            + needle.len();
        let end = self.body[start..].find('"').ok_or("unterminated value")? + start;
        Ok(self.body[start..end]
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"))
    }
}

/// A cookie-keeping client that does not follow redirects.
struct Browser<'a> {
    http: &'a reqwest::Client,
    base: &'a str,
    cookie: Option<String>,
}

impl Browser<'_> {
    async fn read(&mut self, r: reqwest::Response) -> Result<Page, String> {
        for v in r.headers().get_all("set-cookie") {
            let v = v.to_str().map_err(|e| e.to_string())?;
            self.cookie = v.split(';').next().map(str::to_owned);
        }
        let status = r.status();
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = r.text().await.map_err(|e| e.to_string())?;
        Ok(Page {
            status,
            location,
            body,
        })
    }

    async fn get(&mut self, url: &str) -> Result<Page, String> {
        let mut req = self.http.get(url);
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        let r = req.send().await.map_err(|e| e.to_string())?;
        self.read(r).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Result<Page, String> {
        let mut req = self.http.post(format!("{}{path}", self.base)).form(form);
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        let r = req.send().await.map_err(|e| e.to_string())?;
        self.read(r).await
    }
}

/// A query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The `kid` of a JWT's header.
pub fn kid_of(jwt: &str) -> String {
    use base64::Engine;
    let header = jwt.split('.').next().unwrap();
    let v: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    v["kid"].as_str().unwrap().to_owned()
}
