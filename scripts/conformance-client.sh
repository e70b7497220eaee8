#!/usr/bin/env bash
# Runs the official MCP conformance harness against our client (conformance/, built on
# mcp-oauth-client): `--suite all` of @modelcontextprotocol/conformance 0.1.16 and every client
# auth scenario of 0.2.0-alpha.12 (spec 2026-07-28). Baselines: conformance/expected-failures*.yml.
# Prints "N passed, N failed" and exits non-zero on any failure (in client mode a WARNING fails).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export npm_config_cache="${npm_config_cache:-$ROOT/.npm-cache}"
OUT="${CONFORMANCE_OUT:-$ROOT/target/conformance}"
rm -rf "$OUT"; mkdir -p "$OUT"

cargo build -q -p mcp-oauth-conformance --bin conformance-client
BIN="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/debug/conformance-client"
[ -x "$BIN" ] || { echo "conformance-client binary not found at $BIN" >&2; exit 1; }

STABLE="npx -y -p node@22 -p @modelcontextprotocol/conformance@0.1.16 -- conformance"
ALPHA="npx -y -p node@22 -p @modelcontextprotocol/conformance@0.2.0-alpha.12 -- conformance"

passed=0; failed=0; failures=()

# One scenario at a time would take minutes; the harness runs a suite in parallel, and our
# client binds no fixed port, so run whole suites and read the per-scenario results.
count() { # $1: label, $2: results dir
  local dir="$2" f name
  while IFS= read -r f; do
    name="${f#"$dir"/}"; name="${name%/checks.json}"; name="${name%-20[0-9][0-9]-*}"
    if grep -q '"status": *"\(FAILURE\|WARNING\)"' "$f"; then
      failed=$((failed + 1)); failures+=("$1 $name")
    else
      passed=$((passed + 1))
    fi
  done < <(find "$dir" -name checks.json | sort)
}

echo "== conformance 0.1.16 --suite all"
set +e
$STABLE client --command "$BIN" --suite all -o "$OUT/stable" \
  --expected-failures conformance/expected-failures.yml > "$OUT/stable.log" 2>&1
stable_rc=$?
set -e
tail -n 5 "$OUT/stable.log"
count "0.1.16" "$OUT/stable"

echo "== conformance 0.2.0-alpha.12 client auth scenarios"
mapfile -t AUTH < <($ALPHA list 2>/dev/null | sed -n 's/^  - \(auth\/[^ ]*\).*/\1/p' | sort -u)
alpha_rc=0
pids=()
for s in "${AUTH[@]}"; do
  d="$OUT/alpha/${s//\//_}"; mkdir -p "$d"
  ( if $ALPHA client --command "$BIN" --scenario "$s" -o "$d" \
        --expected-failures conformance/expected-failures-2026-07-28.yml > "$d.log" 2>&1
    then echo 0 > "$d.rc"; else echo 1 > "$d.rc"; fi ) &
  pids+=($!)
  # At most 6 at a time: the machine is shared.
  if (( ${#pids[@]} >= 6 )); then wait "${pids[0]}" || true; pids=("${pids[@]:1}"); fi
done
wait || true
for s in "${AUTH[@]}"; do
  d="$OUT/alpha/${s//\//_}"
  rc=$(cat "$d.rc" 2>/dev/null || echo 1)
  if grep -qx "$s" <(sed -n 's/^ *- *//p' conformance/expected-failures-2026-07-28.yml); then
    # A baseline entry: the harness itself reports whether it still fails as expected.
    if [ "$rc" = 0 ]; then echo "expected failure (baseline): $s"; else failed=$((failed + 1)); failures+=("alpha $s (baseline stale)"); alpha_rc=1; fi
    continue
  fi
  if [ "$rc" = 0 ] && ! grep -rqs '"status": *"\(FAILURE\|WARNING\)"' "$d"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); failures+=("alpha $s"); alpha_rc=1
  fi
done

for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed"
[ "$stable_rc" = 0 ] && [ "$alpha_rc" = 0 ] && [ "$failed" = 0 ]
