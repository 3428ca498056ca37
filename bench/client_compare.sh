#!/bin/sh
# HTTP clients side by side, in one run: bench/http_client.c (corio's
# client, its default workers) and the Go net/http client
# (bench/peers/go-http-client, GOMAXPROCS=2), 64 keep-alive connections
# each, GET / of the same server (examples/http_server --loop-only by
# default, or SERVER=go for Go's net/http peer), alternated, ROUNDS rounds.
# Prints `who client_req_per_s X req/s` and `who client_errors N`.
#
#   bench/client_compare.sh [build-dir] [seconds] [rounds]
set -eu
BUILD=${1:-build/release}
SECS=${2:-10}
ROUNDS=${3:-2}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT INT TERM

GOCLIENT=""
if command -v go >/dev/null; then
  (cd "$HERE/peers/go-http-client" && GOFLAGS=-mod=mod GOCACHE="$TMP/gocache" go build -o "$TMP/go-http-client" .) &&
    GOCLIENT="$TMP/go-http-client"
  if [ "${SERVER:-corio}" = go ]; then
    (cd "$HERE/peers/go-http" && GOFLAGS=-mod=mod GOCACHE="$TMP/gocache" go build -o "$TMP/go-http" .)
  fi
fi

. "$HERE/tools/server.sh"
mkdir -p "$TMP/up"
if [ "${SERVER:-corio}" = go ]; then
  GOMAXPROCS=2 start_server server "$TMP/go-http" --dir "$TMP/up" || exit 1
else
  start_server server "$BUILD/examples/http_server" --dir "$TMP/up" --loop-only || exit 1
fi

r=0
while [ $r -lt "$ROUNDS" ]; do
  r=$((r + 1))
  "$BUILD/bench/http_client_bench" --url "$url/" --seconds "$SECS" | sed 's/^/corio /'
  if [ -n "$GOCLIENT" ]; then
    GOMAXPROCS=2 "$GOCLIENT" --url "$url/" --seconds "$SECS" | sed 's/^/go /'
  fi
done
