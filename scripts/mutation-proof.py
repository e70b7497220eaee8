#!/usr/bin/env python3
"""Regression proof by mutation (docs/security.md, "Regression proof").

For each hole of the security review fixed inside the authorization server, put the rule back the
way it was before the fix, run the test that pins it, and expect that test to fail; the file is
restored (`git checkout`) after each. A snippet that is no longer found exactly once stops the run:
update it where the rule moved. Usage: scripts/mutation-proof.py [NAME-SUBSTRING ...]
Needs a clean work tree for the files it mutates. Prints a Markdown table at the end.
"""
import os
import subprocess
import sys
import time

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
M = [
 ("3 trust lists on the split host", "crates/server/src/cimd/mod.rs",
  "if !trust::host_allowed(&host, &config.cimd_allow_hosts, &config.cimd_deny_hosts) {",
  "let naive = client_id.trim_start_matches(\"https://\").split(['/', ':', '?', '#']).next().unwrap_or(\"\").to_owned();\n        if !trust::host_allowed(&naive, &config.cimd_allow_hosts, &config.cimd_deny_hosts) {",
  ["--test", "e2e", "trust_lists_see_every_spelling_of_a_denied_host"]),
 ("3b pages show the host as the string spells it", "crates/server/src/cimd/mod.rs",
  "return Err(CimdError::NotTrusted(host));",
  "let _ = host; return Err(CimdError::NotTrusted(client_id.trim_start_matches(\"https://\").split('/').next().unwrap_or(\"\").to_owned()));",
  ["--test", "e2e", "pages_show_the_ascii_host_of_a_document_url"]),
 ("4a any confidential client introspects", "crates/server/src/handlers/introspect.rs",
  "if caller.introspect_resources.is_empty() {", "if false {",
  ["--test", "e2e", "only_resource_servers_introspect_and_only_their_own_tokens"]),
 ("4b tokens of any audience introspected", "crates/server/src/handlers/introspect.rs",
  "if !claims.aud.iter().any(serves) {", "if false && !claims.aud.iter().any(serves) {",
  ["--test", "e2e", "only_resource_servers_introspect_and_only_their_own_tokens"]),
 ("5 error redirects to unverified URIs", "crates/server/src/authorization_request.rs",
  "client.origin == ClientOrigin::Admin", "{ let _ = client; true }",
  ["--test", "e2e", "errors_never_redirect_to_"]),
 ("6 aud array accepted when it names us", "crates/server/src/client_assertion.rs",
  "        Audience::Many(_) => {\n            return Err(refuse(",
  "        Audience::Many(v) if v.iter().any(|a| ours(a)) => {}\n        Audience::Many(_) => {\n            return Err(refuse(",
  ["--test", "e2e", "client_credentials_by_assertion_and_every_refusal"]),
 ("9 any user approves any scope", "crates/server/src/model.rs",
  "self.roles.is_empty() || self.roles.iter().any(|r| user_roles.contains(r))",
  "{ let _ = user_roles; true }",
  ["--test", "e2e", "restricted_scopes_need_a_role_and_the_token_gets_the_intersection"]),
 ("also: IPv6 keyed per address", "crates/server/src/rate_limit.rs",
  "None => IpAddr::V6((u128::from(v6) & (u128::MAX << 64)).into()),",
  "None => IpAddr::V6(v6),",
  ["--lib", "ipv6_clients_are_keyed_by_their_64"]),
 ("also: a full throttle table forgets everyone", "crates/server/src/throttle.rs",
  "let drop = excess.max(self.capacity / 10).min(map.len());",
  "let drop = { let _ = excess; map.len() };",
  ["--lib", "a_full_table_evicts_the_oldest_not_everyone"]),
 ("also: /metrics public without a token", "crates/server/src/handlers/metrics.rs",
  "        None if state.config().dev => {}\n        None => return (StatusCode::NOT_FOUND, \"not found\").into_response(),",
  "        None => {}",
  ["--test", "e2e", "metrics_are_not_public_outside_dev"]),
]
only = sys.argv[1:]
rows = []
for name, path, old, new, test in M:
    if only and not any(o in name for o in only):
        continue
    src = open(path).read()
    assert src.count(old) == 1, (name, src.count(old))
    open(path, "w").write(src.replace(old, new))
    try:
        t = time.time()
        r = subprocess.run(["cargo", "test", "-p", "mcp-oauth-server"] + test,
                           capture_output=True, text=True,
                           env=dict(os.environ, MCP_OAUTH_LOG="off"))
        out = r.stdout + r.stderr
        compiled = "error[" not in out and "could not compile" not in out
        failed = [l.split()[1] for l in out.splitlines() if l.startswith("test ") and l.endswith("FAILED")]
        summary = [l for l in out.splitlines() if l.startswith("test result")]
        verdict = ("FAILS (as it must)" if compiled and r.returncode != 0 and failed else
                   "DID NOT COMPILE" if not compiled else
                   "PASSED (the test does not pin the fix!)" if r.returncode == 0 else "other failure")
        rows.append((name, " ".join(test), verdict, "; ".join(failed)[:200], int(time.time() - t)))
        print(rows[-1], flush=True)
        if not failed or not compiled:
            print(out[-3000:])
        else:
            # the first panic message, for the table
            for l in out.splitlines():
                if "panicked at" in l or l.startswith("assertion") or "left:" in l:
                    print("   ", l[:300])
    finally:
        subprocess.run(["git", "checkout", "--", path])
print()
for r in rows:
    print("| %s | `%s` | %s | %s |" % r[:4])
