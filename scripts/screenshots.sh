#!/usr/bin/env bash
# The README's pictures of the login and consent pages (docs/img/login.png, docs/img/consent.png),
# taken in headless Chromium through chromedriver (Debian: chromium, chromium-driver) against a
# throw-away `serve --dev --demo` on a free port. Every process it starts is stopped by its pid.
#
#   scripts/screenshots.sh            # builds the release binary if needed
#   MCP_OAUTH_BIN=path/to/mcp-oauth scripts/screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${MCP_OAUTH_BIN:-target/release/mcp-oauth}
CHROME=${CHROME:-/usr/bin/chromium}
DRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}
OUT=${OUT:-docs/img}
for tool in curl jq base64 "$CHROME" "$DRIVER"; do
  command -v "$tool" >/dev/null || { echo "screenshots: $tool is missing" >&2; exit 1; }
done
[ -x "$BIN" ] || cargo build --release -p mcp-oauth

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The server, on a free port, with its state in the work directory.
MCP_OAUTH_LOG=warn "$BIN" serve --dev --demo --addr 127.0.0.1:0 --data-dir "$WORK/data" >"$WORK/serve.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q '^mcp-oauth listening on' "$WORK/serve.out" && break; sleep 0.1; done
ISSUER=$(sed -n 's/^mcp-oauth listening on //p' "$WORK/serve.out")
[ -n "$ISSUER" ] || { cat "$WORK/serve.out" >&2; exit 1; }
RESOURCE=$(jq -rn --arg r "$ISSUER/mcp" '$r|@uri')
AUTHORIZE="$ISSUER/authorize?response_type=code&client_id=demo-client&redirect_uri=http%3A%2F%2F127.0.0.1%3A9999%2Fcallback&scope=mcp%3Atools%20mcp%3Aresources&resource=$RESOURCE&state=xyz&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"

# chromedriver and one headless session.
DPORT=$(free_port)
"$DRIVER" --port="$DPORT" --allowed-ips=127.0.0.1 >/dev/null 2>&1 &
PIDS+=($!)
WD="http://127.0.0.1:$DPORT"
for _ in $(seq 100); do curl -sf "$WD/status" >/dev/null && break; sleep 0.1; done
CAPS=$(jq -n --arg bin "$CHROME" --arg profile "$WORK/profile" '{capabilities: {alwaysMatch: {
  browserName: "chrome", "goog:chromeOptions": {binary: $bin, args: ["--headless=new", "--no-sandbox",
  "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=800,720",
  "--force-device-scale-factor=1", ("--user-data-dir=" + $profile)]}}}}')
SESSION=$(curl -sf -X POST "$WD/session" -H 'content-type: application/json' -d "$CAPS" | jq -r '.value.sessionId')
S="$WD/session/$SESSION"
trap 'curl -s -X DELETE "$S" >/dev/null || true; cleanup' EXIT

wd() { curl -sf -X "$1" "$S$2" -H 'content-type: application/json' ${3:+-d "$3"}; }
element() { wd POST /element "$(jq -n --arg c "$1" '{using: "css selector", value: $c}')" | jq -r '.value | to_entries[0].value'; }
type_into() { wd POST "/element/$(element "$1")/value" "$(jq -n --arg t "$2" '{text: $t}')" >/dev/null; }
click() { wd POST "/element/$(element "$1")/click" '{}' >/dev/null; }
shot() { wd GET /screenshot | jq -r .value | base64 -d >"$1"; echo "wrote $1"; }

mkdir -p "$OUT"
wd POST /url "$(jq -n --arg u "$AUTHORIZE" '{url: $u}')" >/dev/null
element 'input[name=username]' >/dev/null
shot "$OUT/login.png"
type_into 'input[name=username]' demo
type_into 'input[name=password]' demo
click 'button[name=login]'
for _ in $(seq 50); do element 'button[name=approve]' >/dev/null 2>&1 && break; sleep 0.1; done
shot "$OUT/consent.png"
