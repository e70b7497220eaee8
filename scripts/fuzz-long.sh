#!/usr/bin/env bash
# The long fuzz run of docs/security.md ("Fuzzing"): every property-based fuzz target, one at a
# time, with MCP_OAUTH_FUZZ_CASES cases each (default 1,000,000), at nice 19.
#
# It runs the test executables `cargo test --workspace` builds (the dev profile, overflow checks
# on: an arithmetic overflow is a panic, as a fuzzer wants), so it costs no second build.
# Usage: scripts/fuzz-long.sh [CASES]. Prints one Markdown table row per target.
set -euo pipefail
cd "$(dirname "$0")/.."
CASES=${1:-${MCP_OAUTH_FUZZ_CASES:-1000000}}

# The fuzz targets: test executable (its cargo target name and kind) and the name filter.
TARGETS=(
  "mcp_oauth_core lib challenge::fuzz::"
  "fuzz_form_redirect test "
  "fuzz_metadata test "
  "mcp_oauth_resource lib fuzz"
  "fuzz test "
)

exes=$(nice -n 19 cargo test --workspace --no-run --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["target"]["name"], m["target"]["kind"][0], m["manifest_path"], m["executable"])
')

log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "| target | cases | seconds | result |"
echo "|---|---|---|---|"
status=0
for t in "${TARGETS[@]}"; do
  read -r name kind filter <<<"$t"
  row=$(grep -E "^$name $kind " <<<"$exes" | head -n 1) || { echo "no test executable $name ($kind)" >&2; exit 1; }
  manifest=$(cut -d' ' -f3 <<<"$row")
  exe=$(cut -d' ' -f4 <<<"$row")
  # Run from the crate's directory, as cargo does.
  crate_dir=$(dirname "$manifest")
  tests=$(cd "$crate_dir" && "$exe" --list --format terse ${filter:+"$filter"} 2>/dev/null | sed -n 's/: test$//p')
  for test in $tests; do
    start=$(date +%s.%N)
    if (cd "$crate_dir" && MCP_OAUTH_FUZZ_CASES=$CASES nice -n 19 "$exe" --exact "$test" --test-threads 1 -q >"$log" 2>&1); then
      result=passed
    else
      result="FAILED (see output above)"; status=1
      cat "$log" >&2
    fi
    end=$(date +%s.%N)
    crate=$(basename "$crate_dir")
    printf '| `%s` %s | %s | %s | %s |\n' "$crate" "$test" "$CASES" "$(awk "BEGIN { printf \"%.0f\", $end - $start }")" "$result"
  done
done
exit $status
