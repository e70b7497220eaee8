#!/usr/bin/env bash
# The official MCP conformance harness, server suite, against the demo MCP server of
# `mcp-oauth serve --demo-public` (the harness cannot send a token: see README, "Guarding an MCP
# server"; the Origin guard stays on, so `dns-rebinding-protection` tests the real guard).
#
# Prints its own closing line `N passed, N failed` (one per scenario, counted from checks.json)
# and exits non-zero when a scenario fails. Needs cargo and npx (Node >= 18; npm brings Node 22).
set -euo pipefail
cd "$(dirname "$0")/.."

HARNESS="@modelcontextprotocol/conformance@0.1.16"
export npm_config_cache="${npm_config_cache:-$PWD/.npm-cache}"

if ! command -v npx >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "== installing nodejs and npm (the harness is an npm package)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq nodejs npm >/dev/null
  else
    echo "npx is required (Node.js)" >&2
    exit 1
  fi
fi

echo "== building mcp-oauth"
cargo build -q -p mcp-oauth --features conformance
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
BIN="$TARGET_DIR/debug/mcp-oauth"

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" serve --demo-public --addr 127.0.0.1:0 --data-dir "$WORK/data" >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVER_PID=$!

# The first line is `mcp-oauth listening on http://127.0.0.1:PORT`.
BASE=""
for _ in $(seq 1 100); do
  BASE="$(sed -n 's/^mcp-oauth listening on \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$WORK/serve.out" | head -n 1)"
  [[ -n "$BASE" ]] && break
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "mcp-oauth serve exited:" >&2
    cat "$WORK/serve.err" >&2
    exit 1
  fi
  sleep 0.1
done
if [[ -z "$BASE" ]]; then
  echo "mcp-oauth serve did not print its address" >&2
  exit 1
fi
echo "== conformance server suite against $BASE/mcp"

set +e
timeout 480 npx -y -p node@22 -p "$HARNESS" -- conformance server \
  --url "$BASE/mcp" --suite active -o "$WORK/results" 2>&1 | grep -v -e '^npm warn' -e 'EBADENGINE'
HARNESS_STATUS=${PIPESTATUS[0]}
set -e

# One verdict per scenario: failed when any of its checks is a FAILURE.
python3 - "$WORK/results" "$HARNESS_STATUS" <<'EOF'
import json, os, sys
root, status = sys.argv[1], int(sys.argv[2])
passed, failed = [], []
for d in sorted(os.listdir(root)) if os.path.isdir(root) else []:
    path = os.path.join(root, d, "checks.json")
    name = d.removeprefix("server-").rsplit("-", 5)[0]
    try:
        with open(path) as f:
            checks = json.load(f)
    except (OSError, ValueError):
        failed.append(name + " (no checks.json)")
        continue
    bad = [c.get("id", "?") for c in checks if c.get("status") == "FAILURE"]
    (failed if bad else passed).append(name if not bad else f"{name} ({', '.join(bad)})")
for f in failed:
    print(f"FAILED: {f}")
print(f"{len(passed)} passed, {len(failed)} failed")
sys.exit(1 if failed or not passed or status != 0 else 0)
EOF
