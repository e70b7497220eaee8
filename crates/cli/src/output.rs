//! Printing results as text or, with `--json`, as one JSON document on stdout; notes and errors
//! on stderr.
//!
//! An error is one line: what failed, what was tried, what to do. Its causes (the errors of the
//! libraries underneath) only with `-v`, one per line; never the same text twice, never a Rust
//! type name.

use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

/// `-q`: no notes, no progress.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether `-q` was given.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// A note for the user on stderr (not a result): which database, what was opened. `-q` drops it.
pub fn note(text: impl std::fmt::Display) {
    if !quiet() {
        eprintln!("{text}");
    }
}

/// An error whose message was written for the user: printed alone, its causes only with `-v`.
#[derive(Debug)]
pub struct Explained {
    /// The one line.
    pub message: String,
    /// What the libraries said.
    pub source: Option<anyhow::Error>,
}

impl std::fmt::Display for Explained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Explained {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| {
            let e: &(dyn std::error::Error + Send + Sync + 'static) = e.as_ref();
            e as &(dyn std::error::Error + 'static)
        })
    }
}

/// An [`Explained`] error as an `anyhow::Error`.
pub fn explained(message: impl Into<String>, source: Option<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(Explained {
        message: message.into(),
        source,
    })
}

/// Removes Rust type paths in brackets (`Transport [rmcp::transport::Worker<…>] error`), which
/// libraries put in their messages and which mean nothing to a user.
pub fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']').map(|c| open + c) else {
            break;
        };
        out.push_str(&rest[..open]);
        let inner = &rest[open + 1..close];
        if !inner.contains("::") {
            out.push_str(&rest[open..=close]);
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The causes of `e` after its first line, scrubbed, each only once and never one already said.
fn causes(e: &anyhow::Error) -> (String, Vec<String>) {
    let mut said: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = scrub(&cause.to_string());
        if text.is_empty() || said.iter().any(|s| s.contains(&text)) {
            continue;
        }
        // A later cause that repeats an earlier one in more detail replaces it (the first line,
        // what failed, stays).
        let mut i = 1;
        while i < said.len() {
            if text.contains(&said[i]) {
                said.remove(i);
            } else {
                i += 1;
            }
        }
        said.push(text);
    }
    let first = said.first().cloned().unwrap_or_else(|| "failed".to_owned());
    (first, said.into_iter().skip(1).collect())
}

/// The one line printed for `e`: an [`Explained`] message alone; otherwise the chain joined by
/// `: ` without repetitions.
pub fn error_line(e: &anyhow::Error) -> String {
    if let Some(x) = e.downcast_ref::<Explained>() {
        return x.message.clone();
    }
    let (first, rest) = causes(e);
    std::iter::once(first)
        .chain(rest)
        .collect::<Vec<_>>()
        .join(": ")
}

/// Prints `e` on stderr (or as `{"error": …}` on stdout with `--json`); `verbose` adds its causes.
pub fn print_error(e: &anyhow::Error, json: bool, verbose: bool) {
    let line = error_line(e);
    let (_, rest) = causes(e);
    let rest: Vec<String> = rest.into_iter().filter(|c| !line.contains(c)).collect();
    if json {
        let mut body = serde_json::json!({ "error": line });
        if verbose {
            body["causes"] = serde_json::json!(rest);
        }
        println!("{body}");
        return;
    }
    eprintln!("error: {line}");
    if verbose {
        for c in rest {
            eprintln!("  caused by: {c}");
        }
    }
}

/// Flags people try that are called something else here, with what to use instead.
fn renamed_flag(flag: &str) -> Option<&'static str> {
    let name = flag.split('=').next().unwrap_or(flag);
    Some(match name {
        "--port" | "--host" | "--bind" | "--listen" | "-p" => {
            "the listening address is one option: `--addr HOST:PORT` (e.g. `--addr 127.0.0.1:8080`)"
        }
        "--data-dir" | "--database" | "--config" => {
            "`--data-dir`, `--database` and `--config` belong to the server and admin commands; client commands keep credentials in `--credentials FILE`"
        }
        "--client-secret" | "--secret" => {
            "the secret is read from an environment variable: `--client-secret-env VAR`"
        }
        "--browser" => "the browser comes from $BROWSER; `--no-browser` prints the URL instead",
        _ => return None,
    })
}

/// Prints a command-line error (with a hint when the unknown flag was renamed) and exits.
pub fn exit_with_hint(mut e: clap::Error) -> ! {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let hint = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(flag)) if e.kind() == ErrorKind::UnknownArgument => {
            renamed_flag(flag)
        }
        _ => None,
    };
    if let Some(hint) = hint {
        e.insert(
            ContextKind::Suggested,
            ContextValue::StyledStrs(vec![hint.into()]),
        );
    }
    e.exit()
}

/// Prints `value` as JSON when `json`, else prints `text()`.
pub fn emit<T: Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        let t = text();
        if !t.is_empty() {
            println!("{t}");
        }
    }
    Ok(())
}

/// Formats Unix seconds as an RFC 3339 UTC timestamp.
pub fn time(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm), to avoid a date crate for one format.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// Renders rows as an aligned text table.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths.get(i).copied().unwrap_or(0)))
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(headers.to_vec(), &mut out);
    for r in rows {
        line(r.iter().map(String::as_str).collect(), &mut out);
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(time(0), "1970-01-01T00:00:00Z");
        assert_eq!(time(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(time(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn type_names_and_repetitions_are_dropped() {
        assert_eq!(
            scrub("Transport [rmcp::transport::worker::WorkerTransport<X>] error: boom"),
            "Transport error: boom"
        );
        assert_eq!(scrub("keep [this] one"), "keep [this] one");
        let e = anyhow::anyhow!("invalid_target (the resource is not registered)")
            .context("the resource is not registered")
            .context("login failed");
        assert_eq!(
            error_line(&e),
            "login failed: invalid_target (the resource is not registered)"
        );
        let x = explained("one line", Some(anyhow::anyhow!("inner")));
        assert_eq!(error_line(&x), "one line");
        assert_eq!(causes(&x).1, ["inner"]);
    }

    #[test]
    fn renamed_flags_have_hints() {
        assert!(renamed_flag("--port").unwrap().contains("--addr"));
        assert!(renamed_flag("--port=8080").is_some());
        assert!(renamed_flag("--frobnicate").is_none());
    }

    #[test]
    fn aligned_table() {
        let t = table(&["A", "BB"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "A    BB\nxyz  1");
    }
}
