#!/bin/bash
# Context switches and server CPU per refresh rotation on SQLite, for one or more builds, alternated
# over ROUNDS (default 3): each build's `serve --demo` pinned to core 0, 64 refresh chains begun by
# code flows of their own, 2 s of warm-up, then 8 s of `bench-load rotate` on core 1, measured by the
# server's threads' voluntary + involuntary context switches (/proc/PID/task/*/status) and
# utime + stime (/proc/PID/stat). A context switch count is far steadier than throughput on a shared
# machine: it counts the round trips to sqlx's SQLite worker threads (bench/notes.md, issue 19).
#
# Usage (from the repository root): bench/rotation_ctx.sh BIN:LOAD [BIN:LOAD ...]
#   BIN is an `mcp-oauth` release build, LOAD the `bench-load` of the same tree.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n 2,11p "$0" >&2; exit 2; }
ROUNDS=${ROUNDS:-3}
REDIRECT=http://127.0.0.1:9999/callback
ctx() { local t=0 v f; for f in /proc/"$1"/task/*/status; do v=$(awk '/^(non)?voluntary_ctxt_switches/ {s+=$2} END {print s+0}' "$f" 2>/dev/null || echo 0); t=$((t + v)); done; echo "$t"; }
cpu() { awk '{print $14+$15}' /proc/"$1"/stat; }
PID=
DIR=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; [ -n "$DIR" ] && rm -rf "$DIR"; return 0; }
trap cleanup EXIT
for round in $(seq 1 "$ROUNDS"); do
  for pair in "$@"; do
    BIN=${pair%%:*} LOAD=${pair#*:}
    DIR=$(mktemp -d)
    MCP_OAUTH_LOG=warn MCP_OAUTH_CODE_TTL=600 taskset -c 0 "$BIN" --data-dir "$DIR/data" serve --addr 127.0.0.1:0 --demo >"$DIR/out.log" 2>&1 &
    PID=$!
    url=
    for _ in $(seq 100); do
      url=$(grep -o "listening on http://[0-9.:]*" "$DIR/out.log" | sed 's/listening on //' || true)
      [ -n "$url" ] && break
      sleep 0.1
    done
    [ -n "$url" ] || { cat "$DIR/out.log" >&2; exit 1; }
    cookie=$(python3 bench/session.py "$url" "$url/mcp")
    taskset -c 1 "$LOAD" --url "$url" --conns 64 --duration 600 mint-codes --count 64 --out "$DIR/codes" \
      --cookie "$cookie" --client-id demo-client --redirect-uri $REDIRECT --scope mcp:tools --resource "$url/mcp" 2>/dev/null
    taskset -c 1 "$LOAD" --url "$url" --conns 8 --duration 600 redeem --codes "$DIR/codes" --client-id demo-client \
      --redirect-uri $REDIRECT --resource "$url/mcp" --save-refresh "$DIR/chains" >/dev/null 2>&1
    taskset -c 1 "$LOAD" --url "$url" --conns 64 --duration 2 rotate --chains "$DIR/chains" --client-id demo-client >/dev/null 2>&1
    c0=$(ctx "$PID") u0=$(cpu "$PID")
    line=$(taskset -c 1 "$LOAD" --url "$url" --conns 64 --duration 8 rotate --chains "$DIR/chains" --client-id demo-client 2>&1 | grep BENCH)
    c1=$(ctx "$PID") u1=$(cpu "$PID")
    n=$(echo "$line" | grep -o "requests=[0-9]*" | cut -d= -f2)
    us=$(echo "$line" | grep -o "duration_us=[0-9]*" | cut -d= -f2)
    python3 -c "
n, us = $n, $us
print(f'{\"$BIN\"} round $round: {n * 1e6 / us:,.0f} rotations/s, {($c1 - $c0) / n:.1f} context switches and {($u1 - $u0) * 1e4 / n:.0f} us of CPU per rotation')"
    cleanup
    PID= DIR=
  done
done
