//! Log lines on stderr: what each command shows by default, and how `-v`/`-q` change it.
//!
//! A server (`serve`, `guard`) logs its requests and decisions at `info`: those lines are its
//! output. Every other command prints its own lines (results on stdout, notes on stderr) and keeps
//! the libraries (rmcp, sqlx, our own crates' audit events) at `warn`, so that a user sees what
//! the command did, not how. `MCP_OAUTH_LOG` (an `EnvFilter` directive) overrides both. Colour only
//! when stderr is a terminal and `NO_COLOR` is unset, so log files hold no escape codes.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// What the command is and what the user asked for.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// `serve` or `guard`: its log lines are its output.
    pub server: bool,
    /// One JSON object per log line (`serve --json`).
    pub json_lines: bool,
    /// `-v` count.
    pub verbose: u8,
    /// `-q`.
    pub quiet: bool,
}

/// The default filter for `options` (without `MCP_OAUTH_LOG`).
pub fn default_filter(options: &Options) -> &'static str {
    match (options.server, options.quiet, options.verbose) {
        (_, true, _) => "error",
        (true, false, 0) => "info,sqlx=warn",
        (true, false, 1) => "debug,sqlx=warn,hyper=info,h2=info,rustls=info",
        (false, false, 0) => "warn",
        (false, false, 1) => "warn,mcp_oauth=info,mcp_oauth_client=info,mcp_oauth_server=info",
        (_, false, 2) => "debug,sqlx=warn,hyper=info,h2=info,rustls=info",
        (_, false, _) => "trace",
    }
}

/// Whether colour codes may be written to stderr.
pub fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Installs the subscriber.
pub fn init(options: &Options) {
    let filter = EnvFilter::try_from_env("MCP_OAUTH_LOG")
        .unwrap_or_else(|_| EnvFilter::new(default_filter(options)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour());
    if options.json_lines {
        builder.json().init();
    } else if options.server {
        builder.init();
    } else {
        // A client or admin command: a warning reads as a line of the command, not as a log record.
        builder
            .without_time()
            .with_target(options.verbose > 0)
            .init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libraries_stay_at_warn_for_commands_that_are_not_servers() {
        let o = |server, verbose, quiet| Options {
            server,
            json_lines: false,
            verbose,
            quiet,
        };
        assert_eq!(default_filter(&o(false, 0, false)), "warn");
        assert!(default_filter(&o(false, 1, false)).contains("mcp_oauth=info"));
        assert!(default_filter(&o(true, 0, false)).starts_with("info"));
        assert_eq!(default_filter(&o(true, 0, true)), "error");
    }
}
