//! `mcp-oauth login --no-browser` as a process with a person at the browser: the authorization
//! URL it prints is handed to the caller's sign-in, and the redirect URL that comes back is pasted
//! on its stdin, as a person would.
//!
//! Included by path (`#[path = "…/common/login.rs"] mod login;`) by the test crates that need
//! it; they also include `bin.rs` as `crate::bin`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};

/// The login process, killed (by its pid) if the test fails before it ends.
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs `mcp-oauth login URL --no-browser --credentials CREDS`, signs in with `sign_in` (given
/// the authorization URL, returns the redirect's `Location`), pastes that, and returns the
/// process's output and everything it wrote on stderr.
pub async fn login_pasting<F, Fut>(url: &str, creds: &str, sign_in: F) -> (Output, String)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = String>,
{
    let mut child = Command::new(crate::bin::mcp_oauth())
        .args(["login", url, "--no-browser", "--credentials", creds])
        .env_remove("MCP_OAUTH_CREDENTIALS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Keep reading stderr to the end (a closed pipe would kill the process), handing over the
    // authorization URL.
    let stderr = child.stderr.take().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut running = Running(Some(child));
    let (tx, rx) = tokio::sync::oneshot::channel();
    let reader = std::thread::spawn(move || {
        let mut tx = Some(tx);
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("/authorize?")
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(line.trim().to_owned());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let Ok(auth_url) = rx.await else {
        drop(running);
        panic!(
            "login printed no authorization URL: {}",
            reader.join().unwrap()
        );
    };
    let location = sign_in(auth_url).await;
    let child = running.0.take().unwrap();
    let out = tokio::task::spawn_blocking(move || {
        writeln!(stdin, "{location}").unwrap();
        drop(stdin);
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    (out, reader.join().unwrap())
}
