//! A private Secret Service for tests: a `dbus-daemon` session bus and a `gnome-keyring-daemon`
//! on it, both children of the test, bound to paths in a temporary directory and stopped by pid
//! (a drop guard each). The keyring's files live in that directory, so the daemon can be stopped
//! and started again on the same data to check what survives.
//!
//! The bus has its own configuration with no service directories: nothing is D-Bus activated, so
//! no process can start that the test does not know about (no keyring of the real session, no
//! unlock prompter).
//!
//! Shared by `crates/client/tests/keychain.rs` and the CLI's `client_e2e` (through `#[path]`).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The password of the test keyring.
const PASSWORD: &str = "test keyring password";
/// How long a daemon may take to come up.
const START_WAIT: Duration = Duration::from_secs(15);

/// A child process, killed by pid and reaped when dropped.
pub struct Daemon {
    name: &'static str,
    child: Child,
}

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process (by its pid) and waits for it.
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
        eprintln!("stopped {} (pid {})", self.name, self.child.id());
    }
}

/// A session bus with, optionally, a keyring daemon on it.
pub struct SecretService {
    dir: PathBuf,
    /// The bus address, for `DBUS_SESSION_BUS_ADDRESS`.
    pub address: String,
    keyring: Option<Daemon>,
    bus: Daemon,
}

/// Whether the tests that need a Secret Service must run (CI) rather than skip.
pub fn required() -> bool {
    std::env::var("MCP_OAUTH_REQUIRE_KEYRING").is_ok_and(|v| v == "1")
}

fn have(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

impl SecretService {
    /// Starts a session bus in `dir` (no keyring yet). `None`, after printing SKIPPED, when
    /// `dbus-daemon`, `dbus-send` or `gnome-keyring-daemon` is missing, unless
    /// `MCP_OAUTH_REQUIRE_KEYRING=1`, which makes that a failure.
    pub fn start_bus(dir: &Path) -> Option<Self> {
        let missing: Vec<_> = [
            ("dbus-daemon", "--version"),
            ("dbus-send", "--help"),
            ("gnome-keyring-daemon", "--version"),
        ]
        .into_iter()
        .filter(|(p, a)| !have(p, a))
        .map(|(p, _)| p)
        .collect();
        if !missing.is_empty() {
            assert!(
                !required(),
                "MCP_OAUTH_REQUIRE_KEYRING=1 but {missing:?} not found (apt-get install gnome-keyring dbus)"
            );
            println!("SKIPPED: {missing:?} not found (apt-get install gnome-keyring dbus)");
            return None;
        }
        for sub in ["home", "data", "config", "run"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.join("run"), std::fs::Permissions::from_mode(0o700))
                .unwrap();
        }
        let conf = dir.join("bus.conf");
        std::fs::write(
            &conf,
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <!-- Overridden by the address option; dbus-daemon insists on one. -->
  <listen>unix:path=/nonexistent/overridden</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
        )
        .unwrap();
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .args(["--nofork", "--print-address=1"])
            .arg(format!("--address=unix:path={}", dir.join("bus").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("dbus-daemon.log")).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let bus = Daemon {
            name: "dbus-daemon",
            child,
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let address = rx
            .recv_timeout(START_WAIT)
            .expect("dbus-daemon printed no address")
            .trim()
            .to_owned();
        assert!(
            address.starts_with("unix:path="),
            "dbus-daemon printed {address:?}: {}",
            std::fs::read_to_string(dir.join("dbus-daemon.log")).unwrap_or_default()
        );
        eprintln!("started dbus-daemon (pid {}) at {address}", bus.pid());
        Some(Self {
            dir: dir.to_path_buf(),
            address,
            keyring: None,
            bus,
        })
    }

    /// Starts `gnome-keyring-daemon` (secrets component only) on the bus, its files in the
    /// temporary directory; `unlock` gives it the password on stdin (creating the login keyring
    /// the first time). Returns once it owns `org.freedesktop.secrets`.
    pub fn start_keyring(&mut self, unlock: bool) {
        assert!(self.keyring.is_none(), "already running");
        let log = std::fs::File::create(self.dir.join("gnome-keyring.log")).unwrap();
        let mut cmd = Command::new("gnome-keyring-daemon");
        cmd.args(["--foreground", "--components=secrets"])
            .env("HOME", self.dir.join("home"))
            .env("XDG_DATA_HOME", self.dir.join("data"))
            .env("XDG_CONFIG_HOME", self.dir.join("config"))
            .env("XDG_RUNTIME_DIR", self.dir.join("run"))
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if unlock {
            cmd.arg("--unlock").stdin(Stdio::piped());
        } else {
            cmd.stdin(Stdio::null());
        }
        let mut child = cmd.spawn().unwrap();
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(PASSWORD.as_bytes()).unwrap();
        }
        let daemon = Daemon {
            name: "gnome-keyring-daemon",
            child,
        };
        eprintln!(
            "started gnome-keyring-daemon (pid {}, unlock {unlock})",
            daemon.pid()
        );
        self.keyring = Some(daemon);
        self.wait_for_owner(true);
    }

    /// Stops the keyring daemon by its pid; returns once its bus name is gone.
    pub fn stop_keyring(&mut self) {
        if let Some(k) = self.keyring.take() {
            k.stop();
        }
        self.wait_for_owner(false);
    }

    /// Sends the keyring daemon SIGSTOP (`false`) or SIGCONT (`true`) by its pid: stopped, it
    /// keeps its bus name but answers nothing, like a keyring waiting on an invisible prompt.
    pub fn signal_keyring(&self, resume: bool) {
        let pid = self.keyring.as_ref().expect("no keyring daemon").pid();
        let status = Command::new("kill")
            .arg(if resume { "-CONT" } else { "-STOP" })
            .arg(pid.to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The keyring daemon's log (for failure messages).
    pub fn keyring_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("gnome-keyring.log")).unwrap_or_default()
    }

    fn wait_for_owner(&self, owned: bool) {
        let start = Instant::now();
        while self.secrets_owned() != owned {
            assert!(
                start.elapsed() < START_WAIT,
                "org.freedesktop.secrets owned is not {owned} after {START_WAIT:?}; keyring log:\n{}",
                self.keyring_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn secrets_owned(&self) -> bool {
        Command::new("dbus-send")
            .arg(format!("--bus={}", self.address))
            .args([
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.secrets",
            ])
            .stdin(Stdio::null())
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
    }
}
