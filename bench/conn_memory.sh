#!/bin/sh
# Memory per idle keep-alive HTTP connection: each server below is started
# on a free port, N connections each make one GET / and stay open, and the
# growth of the server's RSS per connection is printed (`name idle_conn_kib
# X`). corio's examples/http_server loop-only and on 2 workers, and Go's
# net/http peer (bench/peers/go-http, GOMAXPROCS=2) when Go is there.
#
#   bench/conn_memory.sh [build-dir] [connections]
set -eu
BUILD=${1:-build/release}
N=${2:-2000}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT INT TERM
command -v python3 >/dev/null || { echo "conn_memory: needs python3" >&2; exit 2; }
ulimit -n $((N + 100)) 2>/dev/null || true

if command -v go >/dev/null && [ -d "$HERE/peers/go-http" ]; then
  (cd "$HERE/peers/go-http" && GOFLAGS=-mod=mod GOCACHE="$TMP/gocache" go build -o "$TMP/go-http" .) ||
    echo "conn_memory: could not build go-http" >&2
fi

. "$HERE/tools/server.sh"

measure() { # name, command...
  start_server "$@" || return 0
  port=${url##*:}
  echo "$name $(python3 "$HERE/tools/idle_conns.py" "$port" "$N" "$pid")"
  kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true
}

mkdir -p "$TMP/up"
measure corio_http_server "$BUILD/examples/http_server" --dir "$TMP/up" --loop-only
measure corio_http_server_2w "$BUILD/examples/http_server" --dir "$TMP/up" --workers 2
GOMAXPROCS=2 measure go_http "$TMP/go-http" --dir "$TMP/up"
