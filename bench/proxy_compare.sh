#!/bin/sh
# Reverse proxies side by side, in one run: examples/http_proxy (corio's
# server and client) and Go's httputil.ReverseProxy (bench/peers/go-proxy,
# GOMAXPROCS=2), each in front of the same backend, examples/http_server
# --loop-only. wrk -t1 -c64 GET / through each proxy, alternated, ROUNDS
# rounds; prints `name req_per_s X errors N p99_ms Y` per run, and the
# backend straight as a reference.
#
#   bench/proxy_compare.sh [build-dir] [duration] [rounds]
set -eu
BUILD=${1:-build/release}
DUR=${2:-10s}
ROUNDS=${3:-2}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT INT TERM
command -v wrk >/dev/null || { echo "proxy_compare: needs wrk (apt-get install wrk)" >&2; exit 2; }

GOPROXY=""
if command -v go >/dev/null && [ -d "$HERE/peers/go-proxy" ]; then
  (cd "$HERE/peers/go-proxy" && GOFLAGS=-mod=mod GOCACHE="$TMP/gocache" go build -o "$TMP/go-proxy" .) &&
    GOPROXY="$TMP/go-proxy"
fi

. "$HERE/tools/server.sh"

mkdir -p "$TMP/up"
start_server backend "$BUILD/examples/http_server" --dir "$TMP/up" --loop-only || exit 1
backend=$url
backend_pid=$pid

load() { # name url
  wrk -t1 -c64 -d1s "$2/" >/dev/null 2>&1
  wrk -t1 -c64 -d"$DUR" --latency "$2/" >"$TMP/wrk" 2>&1
  rps=$(awk '/Requests\/sec/ {print $2}' "$TMP/wrk")
  errs=$(awk '/Socket errors|Non-2xx/ {for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i} END {print s + 0}' "$TMP/wrk")
  p99=$(awk '$1 == "99%" {print $2}' "$TMP/wrk")
  echo "$1 req_per_s $rps errors $errs p99 $p99"
}

r=0
while [ $r -lt "$ROUNDS" ]; do
  r=$((r + 1))
  load backend_direct "$backend"
  if start_server corio_proxy "$BUILD/examples/http_proxy" --backend "$backend"; then
    load corio_http_proxy "$url"
    kill -TERM $pid; wait $pid 2>/dev/null || true
  fi
  if [ -n "$GOPROXY" ] && GOMAXPROCS=2 start_server go_proxy "$GOPROXY" --backend "$backend"; then
    load go_reverse_proxy "$url"
    kill -TERM $pid; wait $pid 2>/dev/null || true
  fi
done
kill -TERM $backend_pid; wait $backend_pid 2>/dev/null || true
