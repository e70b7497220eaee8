#!/usr/bin/env bash
# The benchmark harness of issue 7: our authorization server and guard against node-oidc-provider and an
# unguarded rmcp server, with wrk and bench-load (bench/load). Usage: bench/run.sh [--quick] [--runs N]
# [--only LIST]. Writes bench/RESULTS.md and keeps the raw output in bench/out/<timestamp>/. See
# bench/README.md (the scenario names of --only are listed there).
set -euo pipefail

DUR=10
RUNS=3
QUICK=0
ONLY=""
INVOCATION="${BENCH_BIN:+BENCH_BIN=$BENCH_BIN }bench/run.sh $*"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; DUR=3; shift ;;
    --runs) RUNS="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    -h|--help) sed -n 2,5p "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
[ "$RUNS" -ge 1 ] || { echo "--runs must be >= 1" >&2; exit 2; }
ALL_SCENARIOS="cc introspect cc-dpop memory peer mcp mcp-sat mcp-cold mcp-dpop authcode rotate redeem register"
for n in ${ONLY//,/ }; do
  [[ " $ALL_SCENARIOS " == *" $n "* ]] || { echo "unknown scenario for --only: $n (known: $ALL_SCENARIOS)" >&2; exit 2; }
done
# want NAME...: whether any of the scenarios is selected (all are without --only).
want() {
  [ -z "$ONLY" ] && return 0
  local n
  for n in "$@"; do [[ ",$ONLY," == *",$n,"* ]] && return 0; done
  return 1
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
# Before anything here runs: is the machine quiet? The share of both cores busy over 3 s (/proc/stat),
# which, unlike the load average, does not remember a run that just ended.
cpu_busy_pct() {
  local a b
  a=($(head -1 /proc/stat)); sleep 3; b=($(head -1 /proc/stat))
  local idle=$(( (b[4] + b[5]) - (a[4] + a[5]) )) total=0 i
  for i in 1 2 3 4 5 6 7 8; do total=$(( total + b[i] - a[i] )); done
  echo $(( total > 0 ? 100 * (total - idle) / total : 0 ))
}
BUSY_START=$(cpu_busy_pct)
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
WORK=$BENCH/out/$STAMP
mkdir -p "$WORK"
RAW=$WORK/results.tsv
printf 'scenario\tserver\trun\trequests\tduration_us\terrors\tp50_us\tp99_us\tcpu_ticks\n' >"$RAW"
export BENCH_LUA=$BENCH/lua
CONNS=64
SERVER_CPU=0
LOAD_CPU=1
CLK_TCK=$(getconf CLK_TCK)
COMMANDS=$WORK/commands.txt
: >"$COMMANDS"

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
note_cmd() { printf '%s\n' "$*" >>"$COMMANDS"; }

# Every process started here is recorded and stopped by pid on exit.
PIDS=()
stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
# PostgreSQL databases made here (one fresh database per server run), dropped on exit.
PG_URL_BASE=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
PG_DBS=()
cleanup() {
  local pid db
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  for db in "${PG_DBS[@]}"; do
    psql "$PG_URL_BASE/postgres" -qAtc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------- tools
if ! command -v wrk >/dev/null; then
  log "installing wrk (apt-get)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get install -y wrk >/dev/null 2>&1 || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y wrk >/dev/null; }
fi
for t in taskset curl python3 node npm; do command -v "$t" >/dev/null || { echo "missing: $t" >&2; exit 1; }; done
[ "$(nproc)" -ge 2 ] || { echo "needs 2 cores (server on core $SERVER_CPU, load on core $LOAD_CPU)" >&2; exit 1; }

if [ -n "${BENCH_BIN:-}" ]; then
  BIN=$BENCH_BIN  # an existing build (release for real figures; a debug build only tests the harness)
  log "using BENCH_BIN=$BIN (no build)"
else
  log "building (release)"
  (cd "$ROOT" && cargo build --release -p mcp-oauth --features conformance)
  TARGET_DIR=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  BIN=$TARGET_DIR/release/mcp-oauth
  (cd "$ROOT" && cargo build --release -p mcp-oauth-core --example dpop_proofs)
  PROOFS_BIN=$TARGET_DIR/release/examples/dpop_proofs
  (cd "$ROOT" && cargo build --release -p mcp-oauth-bench)
  LOAD_BIN=$TARGET_DIR/release/bench-load
fi
# The DPoP issuance scenario needs the proof maker; with BENCH_BIN, BENCH_PROOFS_BIN names it, and
# BENCH_LOAD_BIN the load generator of the write paths and the DPoP guard (bench/load).
PROOFS_BIN=${BENCH_PROOFS_BIN:-${PROOFS_BIN:-}}
LOAD_BIN=${BENCH_LOAD_BIN:-${LOAD_BIN:-}}
if want mcp-dpop rotate redeem register && [ -z "$LOAD_BIN" ]; then
  echo "these scenarios need bench-load: set BENCH_LOAD_BIN (cargo build --release -p mcp-oauth-bench)" >&2; exit 1
fi
command -v psql >/dev/null || { want rotate redeem register && echo "psql missing: the write paths run on PostgreSQL too" >&2 && exit 1; }

log "peer dependencies (npm ci)"
if [ ! -d "$BENCH/peer/node_modules/oidc-provider" ]; then
  (cd "$BENCH/peer" && npm ci --no-audit --no-fund >/dev/null)
fi
# oidc-provider 9 supports Node 22 LTS or later; bring Node 22 through npx when the system's is older.
NODE=node
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 22 ]; then
  NODE=$(npx -y -p node@22 sh -c 'command -v node' 2>/dev/null | tail -1)
  NODE=$(readlink -f "$NODE")
fi
NODE_VERSION=$("$NODE" --version)

# ---------------------------------------------------------------------------------------- helpers
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# start NAME LOGFILE CMD...: starts CMD on the server core, waits for a `listening on URL` line, sets
# SPID and SURL.
start() {
  local name=$1 logf=$2 i
  shift 2
  note_cmd "taskset -c $SERVER_CPU $*"
  taskset -c "$SERVER_CPU" "$@" >"$logf" 2>&1 &
  SPID=$!
  PIDS+=("$SPID")
  SURL=""
  for i in $(seq 1 300); do
    SURL=$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$logf" 2>/dev/null | head -1 | sed 's/listening on //') || true
    [ -n "$SURL" ] && break
    kill -0 "$SPID" 2>/dev/null || { cat "$logf" >&2; echo "$name exited" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$SURL" ] || { cat "$logf" >&2; echo "$name did not start" >&2; exit 1; }
  log "$name: pid $SPID at $SURL"
}

# wrk_run SCENARIO SERVER RUN PID URL SCRIPT ARGS...: one bounded wrk run on the load core; appends a
# row to results.tsv (requests, duration, errors, p50, p99, server CPU ticks).
WRK_THREADS=1
wrk_run() {
  local scenario=$1 server=$2 run=$3 pid=$4 url=$5 script=$6
  shift 6
  local out=$WORK/wrk-$scenario-$server-$run.txt before after line
  [ "$run" = 1 ] && note_cmd "taskset -c $LOAD_CPU wrk -t$WRK_THREADS -c$CONNS -d${DUR}s --timeout 5s --latency -s bench/lua/$script URL -- $1 ...  # $scenario/$server${BENCH_DELAY_MS:+, BENCH_DELAY_MS=$BENCH_DELAY_MS}"
  before=$(cpu_ticks "$pid")
  taskset -c "$LOAD_CPU" timeout $((DUR + 30)) wrk -t$WRK_THREADS -c$CONNS -d"${DUR}s" --timeout 5s --latency \
    -s "$BENCH_LUA/$script" "$url" -- "$@" >"$out" 2>&1
  after=$(cpu_ticks "$pid")
  line=$(grep '^BENCH ' "$out" | tail -1)
  [ -n "$line" ] || { cat "$out" >&2; echo "wrk gave no summary" >&2; exit 1; }
  row "$scenario" "$server" "$run" "$line" $((after - before))
}
# row SCENARIO SERVER RUN "BENCH k=v ..." CPU_TICKS
row() {
  local kv=$4
  get() { printf '%s\n' "$kv" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
  local errs=0 k
  for k in status_errors connect_errors read_errors write_errors timeouts; do
    local v; v=$(get $k); [ -n "$v" ] && errs=$((errs + v))
  done
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(get requests)" "$(get duration_us)" \
    "$errs" "$(get p50_us)" "$(get p99_us)" "$5" >>"$RAW"
  log "$1/$2 run $3: $(get requests) requests, $errs errors, p50 $(get p50_us) us, p99 $(get p99_us) us, cpu $5 ticks"
}
# median_rps SCENARIO SERVER: median requests/s over the rows so far.
median_rps() {
  awk -F'\t' -v s="$1" -v v="$2" '$1==s && $2==v && $7!="" {print $4 / ($5 / 1e6)}' "$RAW" | sort -n |
    awk '{a[NR]=$1} END {if (NR == 0) print 0; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}
# paced_run SCENARIO SERVER PID URL SCRIPT ARGS...: one run at about 80% of the measured maximum. wrk is
# closed-loop, so each connection waits between requests (BENCH_DELAY_MS): a 2 s calibration run at
# d0 = CONNS / (0.8 * max) gives the time a request takes at that load, L = CONNS / achieved - d0, and
# the recorded run waits d = CONNS / (0.8 * max) - L.
# RUNNER (wrk_run by default, load_run for bench-load) is the function of the measured runs.
paced_run() {
  local scenario=$1 server=$2 max target d0 a d runner=${RUNNER:-wrk_run}
  max=$(median_rps "$scenario" "$server")
  target=$(python3 -c "print(0.8 * $max)")
  d0=$(python3 -c "print($CONNS / $target * 1000)")
  (DUR=2; BENCH_DELAY_MS=$d0 $runner calibrate "$server" 1 "$3" "$4" "${@:5}")
  a=$(median_rps calibrate "$server")
  sed -i '/^calibrate\t/d' "$RAW"
  d=$(python3 -c "print(max(0.0, $d0 - ($CONNS / max($a, 1.0) * 1000 - $d0)))")
  BENCH_DELAY_MS=$d $runner "$scenario@80%" "$server" 1 "$3" "$4" "${@:5}"
}

# load_run SCENARIO SERVER RUN PID URL COMMAND ARGS...: as wrk_run, with bench-load (one thread, on the
# load core): a refresh chain per connection, single-use codes, registration, DPoP per request.
load_run() {
  local scenario=$1 server=$2 run=$3 pid=$4 url=$5
  shift 5
  local out=$WORK/load-$scenario-$server-$run.txt before after line
  [ "$run" = 1 ] && note_cmd "taskset -c $LOAD_CPU bench-load --url URL --conns $CONNS --duration $DUR $1 ...  # $scenario/$server${BENCH_DELAY_MS:+, BENCH_DELAY_MS=$BENCH_DELAY_MS}"
  before=$(cpu_ticks "$pid")
  taskset -c "$LOAD_CPU" timeout $((DUR + 60)) "$LOAD_BIN" --url "$url" --conns "$CONNS" --duration "$DUR" "$@" >"$out" 2>&1 || true
  after=$(cpu_ticks "$pid")
  line=$(grep '^BENCH ' "$out" | tail -1)
  [ -n "$line" ] || { cat "$out" >&2; echo "bench-load gave no summary" >&2; exit 1; }
  row "$scenario" "$server" "$run" "$line" $((after - before))
}

# mint URL BASIC BODY FILE COUNT: issues COUNT tokens with client_credentials into FILE (wrk + mint.lua on
# the load core; wrk runs for its whole -d even after the Lua thread stops, so it is stopped here once
# the file is complete, at most 600 s). Sets MINT_RATE (tokens/s).
mint() {
  local url=$1 basic=$2 body=$3 file=$4 count=$5 wpid i t0 t1
  : >"$file"
  note_cmd "taskset -c $LOAD_CPU wrk -t1 -c$CONNS -d600s -s bench/lua/mint.lua URL -- /token ... FILE $count"
  t0=$(date +%s.%N)
  taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d600s -s "$BENCH_LUA/mint.lua" "$url" -- /token "$basic" "$body" "$file" "$count" \
    >"$file.log" 2>&1 &
  wpid=$!
  PIDS+=("$wpid")
  for i in $(seq 1 6000); do
    [ "$(wc -l <"$file")" -ge "$count" ] && break
    kill -0 "$wpid" 2>/dev/null || break
    sleep 0.1
  done
  t1=$(date +%s.%N)
  stop_pid "$wpid"
  [ "$(wc -l <"$file")" -ge "$count" ] || { cat "$file.log" >&2; echo "minting stopped short" >&2; exit 1; }
  MINT_RATE=$(python3 -c "print(round($count / ($t1 - $t0)))")
}

b64() { printf '%s' "$1" | base64 -w0; }
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }

# -------------------------------------------------------------------------- ours: scenarios 1, 2, 5
export MCP_OAUTH_LOG=warn
# Capacity is measured, not the per-instance rate limiter: with its defaults the per-client /token
# limit (20 000/s) would cap issuance at the target itself and the login limit (50/s) the browser flow.
export MCP_OAUTH_TOKEN_RATE_LIMIT_PER_IP=0 MCP_OAUTH_TOKEN_RATE_LIMIT_PER_CLIENT=0
# DPoP proofs of cc-dpop are made before each run: give them the whole run (RFC 9449 iat window).
export MCP_OAUTH_DPOP_PROOF_LIFETIME=300
export MCP_OAUTH_AUTHORIZE_RATE_LIMIT_PER_IP=0 MCP_OAUTH_LOGIN_RATE_LIMIT_PER_IP=0
RES=https://bench.example/api
RSS_IDLE="" RSS_100K="" MINTED="" MINT100K_RATE="" OURS_RSS_END="" PER_RUN=0
if want cc introspect cc-dpop memory; then
OURS_DIR=$WORK/ours-data
start ours "$WORK/ours.log" "$BIN" --data-dir "$OURS_DIR" serve --addr 127.0.0.1:0
OURS_PID=$SPID OURS=$SURL
note_cmd "$BIN --data-dir DIR resources add $RES --name Bench --scope 'mcp:tools=Use tools'"
"$BIN" --data-dir "$OURS_DIR" resources add "$RES" --name Bench --scope "mcp:tools=Use tools" >/dev/null
# The bench client introspects its own tokens, so it is also the resource server of $RES.
note_cmd "$BIN --data-dir DIR clients add --name bench --grant client_credentials --scope mcp:tools --introspect --resource $RES --json"
CRED=$("$BIN" --data-dir "$OURS_DIR" clients add --name bench --grant client_credentials --scope mcp:tools --introspect --resource "$RES" --json)
CID=$(printf '%s' "$CRED" | json_field client_id)
CSECRET=$(printf '%s' "$CRED" | json_field client_secret)
BASIC=$(b64 "$(python3 -c 'import sys,urllib.parse as u; print(u.quote(sys.argv[1],safe="")+":"+u.quote(sys.argv[2],safe=""))' "$CID" "$CSECRET")")
CC_BODY="grant_type=client_credentials&resource=$(python3 -c 'import sys,urllib.parse as u; print(u.quote(sys.argv[1],safe=""))' "$RES")&scope=mcp%3Atools"
curl -sf "$OURS/token" -H "Authorization: Basic $BASIC" -d "$CC_BODY" >/dev/null || { echo "our token endpoint refused the bench client" >&2; exit 1; }

if want memory; then
sleep 1
RSS_IDLE=$(rss_kib "$OURS_PID")
log "ours: VmRSS idle $RSS_IDLE KiB; issuing 100000 tokens"
mint "$OURS" "$BASIC" "$CC_BODY" "$WORK/ours-100k.txt" 100000
MINTED=$(wc -l <"$WORK/ours-100k.txt") MINT100K_RATE=$MINT_RATE
sleep 1
RSS_100K=$(rss_kib "$OURS_PID")
log "ours: VmRSS after $MINTED tokens $RSS_100K KiB"
rm -f "$WORK/ours-100k.txt"
log "ours: minted at $MINT100K_RATE tokens/s"
fi

if want cc; then
  for r in $(seq 1 "$RUNS"); do wrk_run cc ours "$r" "$OURS_PID" "$OURS" form.lua /token "$BASIC" "$CC_BODY"; done
fi
TOKEN=$(curl -sf "$OURS/token" -H "Authorization: Basic $BASIC" -d "$CC_BODY" | json_field access_token)
curl -sf "$OURS/introspect" -H "Authorization: Basic $BASIC" -d "token=$TOKEN" | grep -q '"active":true' || { echo "our introspection says inactive" >&2; exit 1; }
if want introspect; then
  for r in $(seq 1 "$RUNS"); do wrk_run introspect ours "$r" "$OURS_PID" "$OURS" form.lua /introspect "$BASIC" "token=$TOKEN"; done
fi
want cc && paced_run cc ours "$OURS_PID" "$OURS" form.lua /token "$BASIC" "$CC_BODY"
# client_credentials with a DPoP proof per request (RFC 9449): proof verification and the jti
# recorded in the database on every issuance, next to the bearer "cc" figure. Proofs are made
# just before each run (their iat must be fresh), more than a run sends (BENCH_DPOP_PROOFS).
if ! want cc-dpop; then
  :
elif [ -n "$PROOFS_BIN" ]; then
  for r in $(seq 1 "$RUNS"); do
    "$PROOFS_BIN" "$OURS/token" "${BENCH_DPOP_PROOFS:-400000}" >"$WORK/proofs.txt"
    note_cmd "dpop_proofs URL/token ${BENCH_DPOP_PROOFS:-400000} > FILE  # mcp-oauth-core example"
    wrk_run cc-dpop ours "$r" "$OURS_PID" "$OURS" form_dpop.lua /token "$BASIC" "$CC_BODY" "$WORK/proofs.txt" "$WRK_THREADS"
  done
  rm -f "$WORK/proofs.txt"
else
  log "no proof maker (BENCH_PROOFS_BIN): skipping cc-dpop"
fi
want introspect && paced_run introspect ours "$OURS_PID" "$OURS" form.lua /introspect "$BASIC" "token=$TOKEN"
OURS_RSS_END=$(rss_kib "$OURS_PID")
stop_pid "$OURS_PID"
fi

# ------------------------------------------------------------------------------ peer: scenarios 1, 2
PEER_SECRET=bench-secret-0123456789abcdef0123456789
export NODE_ENV=production PEER_CLIENT_ID=bench-client PEER_CLIENT_SECRET=$PEER_SECRET PEER_RESOURCE=$RES
export PEER_OPAQUE_RESOURCE=https://bench.example/opaque
if want peer; then
start peer "$WORK/peer.log" "$NODE" "$BENCH/peer/server.mjs"
PEER_PID=$SPID PEER=$SURL
PBASIC=$(b64 "bench-client:$PEER_SECRET")
curl -sf "$PEER/token" -H "Authorization: Basic $PBASIC" -d "$CC_BODY" | grep -q access_token || { echo "peer refused" >&2; exit 1; }
# JIT warm-up, not recorded.
(DUR=2; wrk_run warmup peer 1 "$PEER_PID" "$PEER" form.lua /token "$PBASIC" "$CC_BODY") 
sed -i '/^warmup\t/d' "$RAW"
for r in $(seq 1 "$RUNS"); do wrk_run cc peer "$r" "$PEER_PID" "$PEER" form.lua /token "$PBASIC" "$CC_BODY"; done
PTOKEN=$(curl -sf "$PEER/token" -H "Authorization: Basic $PBASIC" \
  -d "grant_type=client_credentials&resource=https%3A%2F%2Fbench.example%2Fopaque&scope=mcp%3Atools" | json_field access_token)
curl -sf "$PEER/token/introspection" -H "Authorization: Basic $PBASIC" -d "token=$PTOKEN" | grep -q '"active":true' || { echo "peer introspection says inactive" >&2; exit 1; }
for r in $(seq 1 "$RUNS"); do wrk_run introspect peer "$r" "$PEER_PID" "$PEER" form.lua /token/introspection "$PBASIC" "token=$PTOKEN"; done
stop_pid "$PEER_PID"
fi

# ------------------------------------------------------------- ours with the demo: scenarios 3 and 4
MCP_SAT_CONNS=${BENCH_MCP_SAT_CONNS:-1024}
if want mcp mcp-sat mcp-cold mcp-dpop authcode; then
DEMO_DIR=$WORK/demo-data
start demo "$WORK/demo.log" "$BIN" --data-dir "$DEMO_DIR" serve --addr 127.0.0.1:0 --demo-public
DEMO_PID=$SPID DEMO=$SURL
MCP_RES=$DEMO/mcp
note_cmd "$BIN --data-dir DIR clients add --name bench-mcp --grant client_credentials --scope mcp:tools --json"
CRED=$("$BIN" --data-dir "$DEMO_DIR" clients add --name bench-mcp --grant client_credentials --scope mcp:tools --json)
MCID=$(printf '%s' "$CRED" | json_field client_id)
MSECRET=$(printf '%s' "$CRED" | json_field client_secret)
MBASIC=$(b64 "$(python3 -c 'import sys,urllib.parse as u; print(u.quote(sys.argv[1],safe="")+":"+u.quote(sys.argv[2],safe=""))' "$MCID" "$MSECRET")")
MCC_BODY="grant_type=client_credentials&resource=$(python3 -c 'import sys,urllib.parse as u; print(u.quote(sys.argv[1],safe=""))' "$MCP_RES")&scope=mcp%3Atools"
MTOKEN=$(curl -sf "$DEMO/token" -H "Authorization: Basic $MBASIC" -d "$MCC_BODY" | json_field access_token)

# rmcp's StreamableHttpService here is stateful (LocalSessionManager): `initialize` returns an
# Mcp-Session-Id, the client sends `notifications/initialized`, then every request carries the id.
# rmcp handles one session's requests in one task, so the load rotates through sessions (as many
# clients would); the handshake is public and is not what is measured. The demo allows 64 live
# sessions per client address (`MAX_SESSIONS_PER_CLIENT`, crates/cli/src/demo/sessions.rs, issue 12),
# and all the load comes from 127.0.0.1: 64 sessions, one per connection of the main runs; the
# 1024-connection runs share them (16 connections per session).
MCP_SESSIONS=${BENCH_MCP_SESSIONS:-64}
MCP_VERSION=2025-06-18
export BENCH_MCP_VERSION=$MCP_VERSION
H=(-H "Content-Type: application/json" -H "Accept: application/json, text/event-stream")
SESSIONS=$WORK/mcp-sessions.txt
: >"$SESSIONS"
for i in $(seq 1 "$MCP_SESSIONS"); do
  SID=$(curl -s -D - -o "$WORK/initialize.txt" "${H[@]}" "$MCP_RES" \
    -d "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"$MCP_VERSION\",\"capabilities\":{},\"clientInfo\":{\"name\":\"bench\",\"version\":\"0\"}}}" |
    tr -d '\r' | awk -F': ' 'tolower($1)=="mcp-session-id" {print $2}')
  SH=(); [ -n "$SID" ] && SH=(-H "Mcp-Session-Id: $SID")
  curl -s -o /dev/null "${H[@]}" "${SH[@]}" -H "MCP-Protocol-Version: $MCP_VERSION" "$MCP_RES" \
    -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  echo "$SID" >>"$SESSIONS"
  [ -n "$SID" ] || break  # stateless: no session ids
done
CALL='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}'
curl -s "${H[@]}" "${SH[@]}" -H "MCP-Protocol-Version: $MCP_VERSION" "$MCP_RES" -d "$CALL" | grep -q hello ||
  { echo "unguarded tools/call failed" >&2; exit 1; }
curl -s "${H[@]}" "${SH[@]}" -H "MCP-Protocol-Version: $MCP_VERSION" -H "Authorization: Bearer $MTOKEN" "$MCP_RES" -d "$CALL" | grep -q hello ||
  { echo "guarded tools/call failed" >&2; exit 1; }
log "demo: $(grep -c . "$SESSIONS") sessions"
SID=$SESSIONS
MCP_PATH=/mcp

if want mcp; then
  for r in $(seq 1 "$RUNS"); do wrk_run mcp unguarded "$r" "$DEMO_PID" "$DEMO" mcp.lua "$MCP_PATH" "$SID"; done
  for r in $(seq 1 "$RUNS"); do wrk_run mcp guarded-warm "$r" "$DEMO_PID" "$DEMO" mcp.lua "$MCP_PATH" "$SID" "$MTOKEN"; done
fi
# 64 connections saturate the server core (the figures show "core busy"); the same pair again with
# many more connections shows what a crowd of clients costs (more sessions and sockets in play).
if want mcp-sat; then
  SAVE_CONNS=$CONNS; CONNS=$MCP_SAT_CONNS
  for r in $(seq 1 "$RUNS"); do wrk_run mcp-sat unguarded "$r" "$DEMO_PID" "$DEMO" mcp.lua "$MCP_PATH" "$SID"; done
  for r in $(seq 1 "$RUNS"); do wrk_run mcp-sat guarded-warm "$r" "$DEMO_PID" "$DEMO" mcp.lua "$MCP_PATH" "$SID" "$MTOKEN"; done
  CONNS=$SAVE_CONNS
fi
# The guard with DPoP-bound tokens (RFC 9449 §7): bench-load gets a token bound to a fresh key
# (client_credentials with a proof), makes a proof with `ath` per request before the timed run, and
# sends each once. The bearer pair is measured with the same load generator, so the two differ
# only in the token's kind (proof verification, `ath`, the jti replay cache).
if want mcp-dpop; then
  for r in $(seq 1 "$RUNS"); do
    load_run mcp-lg bearer "$r" "$DEMO_PID" "$DEMO" mcp --path "$MCP_PATH" --sessions "$SID" --bearer "$MTOKEN"
  done
  NPROOFS=$(python3 -c "print(max(20000, int($(median_rps mcp-lg bearer) * $DUR * 1.5)))")
  for r in $(seq 1 "$RUNS"); do
    load_run mcp-lg dpop "$r" "$DEMO_PID" "$DEMO" mcp --path "$MCP_PATH" --sessions "$SID" \
      --dpop-basic "$MBASIC" --dpop-body "$MCC_BODY" --proofs "$NPROOFS"
  done
fi
if want mcp-cold; then
# Cold: a fresh token per request. Enough tokens for every run not to repeat one (estimated from the
# warm throughput, capped); the cache (10 000 entries) cannot hold a slice, so a wrap also misses.
WARM=$(median_rps mcp-sat guarded-warm)
PER_RUN=$(python3 -c "print(min(150000, max(20000, int($WARM * $DUR * 1.2))))")
log "minting $((PER_RUN * RUNS)) tokens for the cold-cache runs"
mint "$DEMO" "$MBASIC" "$MCC_BODY" "$WORK/cold-tokens.txt" $((PER_RUN * RUNS))
sleep 1
for r in $(seq 1 "$RUNS"); do
  wrk_run mcp guarded-cold "$r" "$DEMO_PID" "$DEMO" mcp_cold.lua "$MCP_PATH" "$SID" "$WORK/cold-tokens.txt" $(((r - 1) * PER_RUN + 1)) "$PER_RUN"
done
echo "$PER_RUN" >"$WORK/cold-per-run.txt"
rm -f "$WORK/cold-tokens.txt"
fi
if want mcp; then
  paced_run mcp unguarded "$DEMO_PID" "$DEMO" mcp.lua "$MCP_PATH" "$SID"
  paced_run mcp guarded-warm "$DEMO_PID" "$DEMO" mcp.lua "$MCP_PATH" "$SID" "$MTOKEN"
fi
if want mcp-sat; then
  SAVE_CONNS=$CONNS; CONNS=$MCP_SAT_CONNS
  paced_run mcp-sat guarded-warm "$DEMO_PID" "$DEMO" mcp.lua "$MCP_PATH" "$SID" "$MTOKEN"
  CONNS=$SAVE_CONNS
fi

# Scenario 4: the browser flow, Python driver on the load core.
AC_WORKERS=8
want authcode && for r in $(seq 1 "$RUNS"); do
  note_cmd "taskset -c $LOAD_CPU python3 bench/authcode.py $DEMO $MCP_RES $DUR $AC_WORKERS  # run $r"
  before=$(cpu_ticks "$DEMO_PID")
  line=$(taskset -c "$LOAD_CPU" timeout $((DUR + 60)) python3 "$BENCH/authcode.py" "$DEMO" "$MCP_RES" "$DUR" "$AC_WORKERS" 2>"$WORK/authcode-$r.err" | grep '^FLOW ')
  after=$(cpu_ticks "$DEMO_PID")
  row authcode ours "$r" "${line#FLOW }" $((after - before))
done
stop_pid "$DEMO_PID"
fi

# ------------------------------------------------------------ the write paths: scenarios 7–9 (issue 19)
# Refresh rotation, code redemption and registration, each on SQLite (a fresh data directory), on
# PostgreSQL (a fresh database, dropped on exit) and on the peer (node-oidc-provider ships only its
# in-memory adapter: its figures are without a database). bench-load drives them: a refresh chain per
# connection, each code redeemed once, a fresh registration per request.
# Codes are minted before each run (600 s lifetime on both sides, so a long mint does not expire them):
# ours through `GET /authorize` with one signed-in session whose consent covers the request
# (bench/session.py logs in once: the login's Argon2id is not in any figure), the peer through the
# bench route of bench/peer/server.mjs (its own Grant and AuthorizationCode models).
# The registration limit (10 a minute per address by default) is lifted: capacity is measured.
export MCP_OAUTH_CODE_TTL=600 MCP_OAUTH_REGISTRATION_RATE_LIMIT=1000000000
REDIRECT=http://127.0.0.1:9999/callback
# codes_for SCENARIO SERVER SECONDS: codes for SECONDS of load: 1.3 × the median rate so far, or a guess.
codes_for() {
  python3 -c "m = $(median_rps "$1" "$2"); print(int(1.3 * (m if m > 0 else 8000) * $3) + $CONNS)"
}
# mint_codes SERVER URL COUNT FILE: COUNT `code verifier` lines into FILE (not timed, not recorded).
mint_codes() {
  if [ "$1" = peer ]; then
    note_cmd "taskset -c $LOAD_CPU bench-load --url URL --conns 8 --duration 600 mint-peer-codes --count N --out FILE"
    taskset -c "$LOAD_CPU" "$LOAD_BIN" --url "$2" --conns 8 --duration 600 mint-peer-codes --count "$3" --out "$4" 2>>"$WORK/mint.log"
  else
    note_cmd "taskset -c $LOAD_CPU bench-load --url URL --conns $CONNS --duration 600 mint-codes --count N --out FILE --cookie SESSION --client-id demo-client --redirect-uri $REDIRECT --scope mcp:tools --resource URL/mcp"
    taskset -c "$LOAD_CPU" "$LOAD_BIN" --url "$2" --conns "$CONNS" --duration 600 mint-codes --count "$3" --out "$4" \
      --cookie "$COOKIE" --client-id demo-client --redirect-uri "$REDIRECT" --scope mcp:tools --resource "$2/mcp" 2>>"$WORK/mint.log"
  fi
}
write_paths() {
  local server=$1 url pid client resource regpath codes=$WORK/codes-$1.txt chains=$WORK/chains-$1.txt r
  case $server in
    sqlite) start "ours-sqlite" "$WORK/ours-sqlite.log" "$BIN" --data-dir "$WORK/sqlite-data" serve --addr 127.0.0.1:0 --demo ;;
    postgres)
      local db="mcp_oauth_bench_${STAMP,,}_$$"
      note_cmd "psql $PG_URL_BASE/postgres -c 'CREATE DATABASE <fresh>'  # dropped on exit"
      psql "$PG_URL_BASE/postgres" -qAtc "CREATE DATABASE \"$db\"" >/dev/null
      PG_DBS+=("$db")
      start "ours-postgres" "$WORK/ours-postgres.log" "$BIN" --data-dir "$WORK/postgres-data" --database "$PG_URL_BASE/$db" serve --addr 127.0.0.1:0 --demo ;;
    peer) start peer "$WORK/peer-writes.log" "$NODE" "$BENCH/peer/server.mjs" ;;
  esac
  pid=$SPID url=$SURL
  if [ "$server" = peer ]; then
    client=bench-public resource=$RES regpath=/reg
  else
    client=demo-client resource=$url/mcp regpath=/register
    note_cmd "python3 bench/session.py URL URL/mcp  # one login and consent; prints the session cookie"
    COOKIE=$(python3 "$BENCH/session.py" "$url" "$resource")
  fi
  if want rotate; then
    # One chain per connection, each begun by a code flow of its own (the code redeemed here).
    mint_codes "$server" "$url" "$CONNS" "$codes"
    note_cmd "taskset -c $LOAD_CPU bench-load --url URL --conns 8 redeem --codes FILE ... --save-refresh CHAINS  # $CONNS chains"
    taskset -c "$LOAD_CPU" "$LOAD_BIN" --url "$url" --conns 8 --duration 600 redeem --codes "$codes" --client-id "$client" \
      --redirect-uri "$REDIRECT" --resource "$resource" --save-refresh "$chains" >"$WORK/chains-$server.log" 2>&1
    [ "$(grep -c . "$chains")" -ge "$CONNS" ] || { cat "$WORK/chains-$server.log" >&2; echo "$server: too few chains" >&2; exit 1; }
    if [ "$server" = peer ]; then  # JIT warm-up, not recorded (the chains go on)
      (DUR=2; load_run warmup peer 1 "$pid" "$url" rotate --chains "$chains" --client-id "$client")
      sed -i '/^warmup\t/d' "$RAW"
    fi
    for r in $(seq 1 "$RUNS"); do load_run rotate "$server" "$r" "$pid" "$url" rotate --chains "$chains" --client-id "$client"; done
    RUNNER=load_run paced_run rotate "$server" "$pid" "$url" rotate --chains "$chains" --client-id "$client"
  fi
  if want redeem; then
    for r in $(seq 1 "$RUNS"); do
      mint_codes "$server" "$url" "$(codes_for redeem "$server" "$DUR")" "$codes"
      load_run redeem "$server" "$r" "$pid" "$url" redeem --codes "$codes" --client-id "$client" --redirect-uri "$REDIRECT" --resource "$resource"
    done
    # The calibration run and the paced run take their codes from one file (bench-load writes the
    # unused ones back).
    mint_codes "$server" "$url" "$(codes_for redeem "$server" $((DUR + 2)))" "$codes"
    RUNNER=load_run paced_run redeem "$server" "$pid" "$url" redeem --codes "$codes" --client-id "$client" --redirect-uri "$REDIRECT" --resource "$resource"
  fi
  if want register; then
    for r in $(seq 1 "$RUNS"); do load_run register "$server" "$r" "$pid" "$url" register --path "$regpath"; done
  fi
  rm -f "$codes" "$chains"
  stop_pid "$pid"
}
if want rotate redeem register; then
  write_paths sqlite
  write_paths postgres
  write_paths peer
fi

# ------------------------------------------------------------------------------------------ report
cat >"$WORK/env.txt" <<EOF
quick=$QUICK
duration_s=$DUR
runs=$RUNS
connections=$CONNS
clk_tck=$CLK_TCK
nproc=$(nproc)
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
kernel=$(uname -srm)
loadavg_start=$LOADAVG_START
busy_start_pct=$BUSY_START
loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)
node=$NODE_VERSION
oidc_provider=$(node -p "require('$BENCH/peer/node_modules/oidc-provider/package.json').version")
wrk=$(wrk -v 2>&1 | head -1)
rss_idle_kib=$RSS_IDLE
rss_100k_kib=$RSS_100K
minted=$MINTED
mint100k_rate=$MINT100K_RATE
rss_end_kib=$OURS_RSS_END
cold_per_run=$PER_RUN
mcp_sat_conns=$MCP_SAT_CONNS
mcp_sessions=${MCP_SESSIONS:-64}
postgres=$(psql "$PG_URL_BASE/postgres" -qAtc 'SHOW server_version' 2>/dev/null || echo unknown)
only=$ONLY
commit=$(cd "$ROOT" && git rev-parse --short HEAD)
dirty_files=$(cd "$ROOT" && git status --porcelain -- crates | wc -l)
binary=$BIN
invocation=$INVOCATION
stamp=$STAMP
EOF
python3 "$BENCH/report.py" "$WORK" "$BENCH/RESULTS.md"
log "wrote bench/RESULTS.md (raw: ${WORK#$ROOT/})"
