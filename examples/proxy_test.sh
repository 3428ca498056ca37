#!/bin/sh
# proxy_test.sh: smoke test of examples/http_proxy in front of
# examples/http_server, over loopback, with curl.
#
#   proxy_test.sh BUILD_DIR [WRAPPER...]
#
# WRAPPER (e.g. valgrind with its options) runs the proxy. Checks, through
# the proxy: GET / (the backend's hello), a 3 MiB upload streamed to the
# backend (PUT /files/NAME) and back (GET, compared), POST /echo of a
# chunked body, an answer that keeps its own framing when the request
# names hop-by-hop fields, then 502 once the backend is gone; then
# SIGTERM and a clean exit 0 of the proxy. Exit 0 passed, 1
# failed, 77 skipped (no curl).
set -u
BUILD=$1
shift
command -v curl >/dev/null 2>&1 || { echo "SKIP: curl not found" >&2; exit 77; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/corio_proxy_test.XXXXXX") || exit 1
bpid=
ppid_=
cleanup() {
  for p in $ppid_ $bpid; do
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  rm -rf "$dir"
}
trap cleanup EXIT

# Start a server writing its stdout to $1, wait for "listening on", set url.
wait_listening() {
  i=0
  while [ $i -lt 300 ]; do
    url=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$1" | head -n 1)
    [ -n "$url" ] && return 0
    sleep 0.1
    i=$((i + 1))
  done
  echo "FAIL: no listening line in $1" >&2
  cat "$1" >&2
  return 1
}

"$BUILD/examples/http_server" --port 0 --dir "$dir/up" >"$dir/backend.out" 2>&1 &
bpid=$!
wait_listening "$dir/backend.out" || exit 1
backend=$url
"$@" "$BUILD/examples/http_proxy" --port 0 --backend "$backend" --timeout-ms 5000 \
  >"$dir/proxy.out" 2>"$dir/proxy.err" &
ppid_=$!
wait_listening "$dir/proxy.out" || { cat "$dir/proxy.err" >&2; exit 1; }
proxy=$url
fail() {
  echo "FAIL: $*" >&2
  cat "$dir/proxy.err" >&2
  exit 1
}

got=$(curl -sS -m 10 "$proxy/") || fail "GET /"
[ "$got" = "Hello, World!" ] || fail "GET / gave '$got'"

head -c 3145728 /dev/urandom >"$dir/blob"
code=$(curl -sS -m 30 -o /dev/null -w '%{http_code}' -T "$dir/blob" "$proxy/files/blob") ||
  fail "PUT"
[ "$code" = 201 ] || fail "PUT gave $code"
curl -sS -m 30 -o "$dir/back" "$proxy/files/blob" || fail "GET the upload"
cmp -s "$dir/blob" "$dir/back" || fail "the download differs from the upload"

got=$(printf 'ping through the proxy' | curl -sS -m 10 -H 'Transfer-Encoding: chunked' \
  --data-binary @- "$proxy/echo") || fail "POST /echo"
[ "$got" = "ping through the proxy" ] || fail "POST /echo gave '$got'"

# Hop-by-hop fields do not pass; the answer keeps its own framing.
hdrs=$(curl -sS -m 10 -D - -o /dev/null -H 'Connection: keep-alive, X-Secret' \
  -H 'X-Secret: 1' "$proxy/") || fail "GET with hop-by-hop fields"
echo "$hdrs" | grep -qi '^content-length: 13' || fail "no Content-Length: $hdrs"

kill -TERM "$bpid"
wait "$bpid" 2>/dev/null
bpid=
code=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' "$proxy/") || fail "GET without a backend"
[ "$code" = 502 ] || fail "without a backend: $code, not 502"

kill -TERM "$ppid_"
i=0
while kill -0 "$ppid_" 2>/dev/null && [ $i -lt 300 ]; do
  sleep 0.1
  i=$((i + 1))
done
wait "$ppid_"
st=$?
ppid_=
[ $st -eq 0 ] || fail "the proxy exited with $st"
[ -s "$dir/proxy.err" ] && cat "$dir/proxy.err" >&2
echo "proxy: hello, 3 MiB up and back, echo, hop-by-hop, 502, clean stop: passed"
exit 0
