//! `mcp-oauth init DIR`: a new project from a template shipped inside the binary
//! (`crates/cli/templates/…`, read by `include_str!`).
//!
//! - `server` (default): a Rust MCP server on rmcp protected by `mcp-oauth-resource`, with a test
//!   that runs mcp-oauth's authorization server in process;
//! - `guard`: the files to run `mcp-oauth guard` in front of a server in any language.
//!
//! The generated `Cargo.toml` depends on the mcp-oauth crates by version, or by path with
//! `--crates-path` (CI builds the template against this workspace's crates). The directory must
//! not exist or be empty; if writing fails half-way, what was written is removed.

use crate::GlobalArgs;
use crate::output::{emit, explained};
use anyhow::Context;
use serde_json::json;
use std::path::{Path, PathBuf};

/// Which project to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Template {
    /// A Rust MCP server (rmcp) protected by mcp-oauth-resource.
    Server,
    /// `mcp-oauth guard` in front of an MCP server in any language.
    Guard,
}

/// `mcp-oauth init DIR`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The directory to create (it may exist if it is empty).
    pub dir: PathBuf,
    /// The template.
    #[arg(long, value_enum, default_value = "server")]
    pub template: Template,
    /// The project's name (a Cargo package name); default: the directory's name.
    #[arg(long)]
    pub name: Option<String>,
    /// Depend on the mcp-oauth crates by path: the directory holding `core/`, `server/` and
    /// `resource/` (a checkout's `crates`). Default: by version, from crates.io.
    #[arg(long, value_name = "DIR")]
    pub crates_path: Option<PathBuf>,
}

/// One file of a template: where it goes, and its text with `{{…}}` placeholders.
type File = (&'static str, &'static str);

const SERVER: &[File] = &[
    (
        "Cargo.toml",
        include_str!("../templates/server/Cargo.toml.tmpl"),
    ),
    ("README.md", include_str!("../templates/server/README.md")),
    (
        ".env.example",
        include_str!("../templates/server/env.example"),
    ),
    (".gitignore", include_str!("../templates/server/gitignore")),
    ("src/lib.rs", include_str!("../templates/server/src/lib.rs")),
    (
        "src/main.rs",
        include_str!("../templates/server/src/main.rs"),
    ),
    (
        "tests/protected.rs",
        include_str!("../templates/server/tests/protected.rs"),
    ),
];

const GUARD: &[File] = &[
    ("README.md", include_str!("../templates/guard/README.md")),
    (
        ".env.example",
        include_str!("../templates/guard/env.example"),
    ),
    (".gitignore", include_str!("../templates/guard/gitignore")),
    (
        "policy.toml",
        include_str!("../templates/guard/policy.toml"),
    ),
    (
        "mcp-oauth-guard.service",
        include_str!("../templates/guard/mcp-oauth-guard.service"),
    ),
    (
        "compose.yaml",
        include_str!("../templates/guard/compose.yaml"),
    ),
];

/// `init`.
pub async fn run(global: &GlobalArgs, args: InitArgs) -> anyhow::Result<()> {
    let name = match &args.name {
        Some(n) => n.clone(),
        None => args
            .dir
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
            .unwrap_or_default(),
    };
    check_name(&name)?;
    let deps = dependencies(args.crates_path.as_deref())?;
    let files = match args.template {
        Template::Server => SERVER,
        Template::Guard => GUARD,
    };
    let values = [
        ("{{NAME}}", name.as_str()),
        ("{{DEP_RESOURCE}}", deps.resource.as_str()),
        ("{{DEP_CORE}}", deps.core.as_str()),
        ("{{DEP_SERVER}}", deps.server.as_str()),
    ];
    write_all(&args.dir, files, &values)?;
    let written: Vec<&str> = files.iter().map(|(p, _)| *p).collect();
    let dir = args.dir.display().to_string();
    emit(
        global.json,
        &json!({"dir": dir, "template": format!("{:?}", args.template).to_lowercase(), "name": name, "files": written}),
        || match args.template {
            Template::Server => format!(
                "Created {dir}: an MCP server protected by OAuth ({}).\nNext: read {dir}/README.md; `cd {dir} && cargo test` runs its test.",
                written.join(", ")
            ),
            Template::Guard => format!(
                "Created {dir}: mcp-oauth guard in front of your MCP server ({}).\nNext: read {dir}/README.md, copy .env.example to .env and set the upstream, resource and issuer.",
                written.join(", ")
            ),
        },
    )
}

/// A Cargo package name: ASCII letters, digits, `-` and `_`, not starting with a digit.
fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        return Ok(());
    }
    Err(explained(
        format!(
            "`{name}` is not a package name (letters, digits, - and _, not starting with a digit): pass --name NAME"
        ),
        None,
    ))
}

/// The dependency specifications of the generated `Cargo.toml`.
struct Dependencies {
    resource: String,
    core: String,
    server: String,
}

fn dependencies(crates_path: Option<&Path>) -> anyhow::Result<Dependencies> {
    let version = env!("CARGO_PKG_VERSION");
    let Some(root) = crates_path else {
        return Ok(Dependencies {
            resource: format!("{{ version = \"{version}\", features = [\"axum\"] }}"),
            core: format!("\"{version}\""),
            server: format!("\"{version}\""),
        });
    };
    let root = root
        .canonicalize()
        .with_context(|| format!("--crates-path {}", root.display()))?;
    let path_of = |krate: &str| -> anyhow::Result<String> {
        let dir = root.join(krate);
        if !dir.join("Cargo.toml").is_file() {
            return Err(explained(
                format!(
                    "--crates-path {}: no {krate}/Cargo.toml there (give the directory holding core/, server/ and resource/)",
                    root.display()
                ),
                None,
            ));
        }
        let text = dir
            .to_str()
            .with_context(|| format!("{} is not UTF-8", dir.display()))?;
        // A TOML basic string, escaped as TOML requires.
        Ok(toml::Value::String(text.to_owned()).to_string())
    };
    Ok(Dependencies {
        resource: format!(
            "{{ path = {}, features = [\"axum\"] }}",
            path_of("resource")?
        ),
        core: format!("{{ path = {} }}", path_of("core")?),
        server: format!("{{ path = {} }}", path_of("server")?),
    })
}

/// Writes every file under `dir`, which must not exist or be empty; on any failure removes
/// what this call created.
fn write_all(dir: &Path, files: &[File], values: &[(&str, &str)]) -> anyhow::Result<()> {
    let existed = dir.exists();
    if existed {
        let empty = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .next()
            .is_none();
        if !empty {
            return Err(explained(
                format!(
                    "{} exists and is not empty: choose a new directory",
                    dir.display()
                ),
                None,
            ));
        }
    }
    let result = files.iter().try_for_each(|(path, text)| {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let mut out = (*text).to_owned();
        for (k, v) in values {
            out = out.replace(k, v);
        }
        std::fs::write(&target, out).with_context(|| format!("cannot write {}", target.display()))
    });
    if result.is_err() {
        if existed {
            for (path, _) in files {
                let _ = std::fs::remove_file(dir.join(path));
            }
        } else {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("my-server_2").is_ok());
        for bad in ["", "2fast", "my server", "dir/x", "ünïcode"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_placeholder_is_filled() {
        let deps = dependencies(None).unwrap();
        let values = [
            ("{{NAME}}", "x"),
            ("{{DEP_RESOURCE}}", deps.resource.as_str()),
            ("{{DEP_CORE}}", deps.core.as_str()),
            ("{{DEP_SERVER}}", deps.server.as_str()),
        ];
        for (path, text) in SERVER.iter().chain(GUARD) {
            let mut out = (*text).to_owned();
            for (k, v) in values {
                out = out.replace(k, v);
            }
            assert!(!out.contains("{{"), "{path}");
        }
        let manifest: toml::Value = toml::from_str(
            &SERVER[0]
                .1
                .replace("{{NAME}}", "x")
                .replace("{{DEP_RESOURCE}}", &deps.resource)
                .replace("{{DEP_CORE}}", &deps.core)
                .replace("{{DEP_SERVER}}", &deps.server),
        )
        .unwrap();
        assert_eq!(
            manifest["dependencies"]["mcp-oauth-resource"]["version"].as_str(),
            Some(env!("CARGO_PKG_VERSION"))
        );
    }
}
