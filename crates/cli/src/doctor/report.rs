//! What `doctor` found: one [`Check`] per thing it looked at, in the order a client meets them,
//! each with what it saw, the rule it holds the server to and how to fix a failure; printed as
//! text or as JSON (`--json`).

use serde::Serialize;

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// As the specification asks.
    Pass,
    /// Allowed, but some clients will stumble (or a SHOULD is not met).
    Warn,
    /// Wrong: a spec-compliant client fails here, or a security rule is broken.
    Fail,
    /// Facts worth knowing, no verdict.
    Info,
    /// Not checked: an earlier failure, or nothing to check it with (no token).
    Skip,
}

impl Status {
    fn mark(self) -> &'static str {
        match self {
            Self::Pass => "[ok]  ",
            Self::Warn => "[warn]",
            Self::Fail => "[FAIL]",
            Self::Info => "[info]",
            Self::Skip => "[skip]",
        }
    }
}

/// One check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The link of the chain: `endpoint`, `challenge`, `resource metadata`, …
    pub step: &'static str,
    /// A stable name for scripts (`prm.resource`, `as.pkce`, …).
    pub id: &'static str,
    /// The verdict.
    pub status: Status,
    /// One line: what was checked and the conclusion.
    pub summary: String,
    /// What the server answered, when that helps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saw: Option<String>,
    /// The section of the specification or RFC the check applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<&'static str>,
    /// What to change on the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    /// Adds what the server answered.
    pub fn saw(&mut self, saw: impl Into<String>) -> &mut Self {
        self.saw = Some(saw.into());
        self
    }

    /// Adds the rule.
    pub fn spec(&mut self, spec: &'static str) -> &mut Self {
        self.spec = Some(spec);
        self
    }

    /// Adds the fix.
    pub fn fix(&mut self, fix: impl Into<String>) -> &mut Self {
        self.fix = Some(fix.into());
        self
    }
}

/// Every check of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The MCP server URL diagnosed.
    pub url: String,
    /// The checks in order.
    pub checks: Vec<Check>,
    /// The counts by verdict, filled in by [`Report::finish`].
    pub summary: Summary,
}

/// How many checks had each verdict.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Summary {
    /// Passed.
    pub pass: usize,
    /// Warnings.
    pub warn: usize,
    /// Failures.
    pub fail: usize,
    /// Skipped.
    pub skip: usize,
}

impl Report {
    /// An empty report for `url`.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            checks: Vec::new(),
            summary: Summary::default(),
        }
    }

    /// Records a check and returns it for the details.
    pub fn add(
        &mut self,
        step: &'static str,
        id: &'static str,
        status: Status,
        summary: impl Into<String>,
    ) -> &mut Check {
        let at = self.checks.len();
        self.checks.push(Check {
            step,
            id,
            status,
            summary: summary.into(),
            saw: None,
            spec: None,
            fix: None,
        });
        &mut self.checks[at]
    }

    /// Counts the verdicts.
    pub fn finish(&mut self) {
        let count = |s| self.checks.iter().filter(|c| c.status == s).count();
        self.summary = Summary {
            pass: count(Status::Pass),
            warn: count(Status::Warn),
            fail: count(Status::Fail),
            skip: count(Status::Skip),
        };
    }

    /// The text form: a heading per step, one mark and line per check, the details indented.
    pub fn text(&self) -> String {
        let mut out = format!("mcp-oauth doctor {}\n", self.url);
        let mut step = "";
        for c in &self.checks {
            if c.step != step {
                step = c.step;
                out.push_str(&format!("\n{}\n", capitalise(step)));
            }
            out.push_str(&format!("  {} {}\n", c.status.mark(), c.summary));
            for (label, value) in [
                ("saw", c.saw.as_deref()),
                ("rule", c.spec),
                ("fix", c.fix.as_deref()),
            ] {
                if let Some(v) = value {
                    out.push_str(&format!("         {label}: {v}\n"));
                }
            }
        }
        let s = self.summary;
        out.push_str(&format!(
            "\n{} passed, {} warning{}, {} failure{}, {} skipped\n",
            s.pass,
            s.warn,
            plural(s.warn),
            s.fail,
            plural(s.fail),
            s.skip
        ));
        out
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_counts() {
        let mut r = Report::new("https://mcp.example/mcp");
        r.add("endpoint", "a", Status::Pass, "reachable");
        r.add("endpoint", "b", Status::Fail, "no challenge")
            .saw("HTTP 200")
            .spec("RFC 9728 §5.1")
            .fix("answer 401");
        r.add("token", "c", Status::Skip, "no token");
        r.finish();
        let t = r.text();
        assert!(t.contains("\nEndpoint\n  [ok]   reachable\n  [FAIL] no challenge\n"));
        assert!(t.contains("         saw: HTTP 200\n         rule: RFC 9728 §5.1\n"));
        assert!(t.ends_with("1 passed, 0 warnings, 1 failure, 1 skipped\n"));
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["checks"][1]["status"], "fail");
        assert_eq!(j["summary"]["fail"], 1);
        assert!(j["checks"][0].get("fix").is_none());
    }
}
