#!/bin/sh
# unix_test.sh: examples/http_server on a Unix-domain socket (--unix),
# asked by curl --unix-socket, then stopped by SIGTERM (exit 0).
#
#   unix_test.sh BUILD_DIR
#
# Exit status: 0 passed, 1 failed, 77 skipped (no curl).
set -u
BUILD=${1:-build/dev}
command -v curl >/dev/null || { echo "unix_test: no curl, skipped"; exit 77; }
TMP=$(mktemp -d)
SOCK="$TMP/http.sock"
"$BUILD/examples/http_server" --unix "$SOCK" --dir "$TMP/uploads" >"$TMP/out" 2>"$TMP/err" &
pid=$!
i=0
while ! grep -q "listening on unix:$SOCK" "$TMP/out" 2>/dev/null; do
  i=$((i + 1))
  if [ $i -gt 100 ] || ! kill -0 $pid 2>/dev/null; then
    echo "unix_test: the server did not start"; cat "$TMP/err"; exit 1
  fi
  sleep 0.1
done
got=$(curl -sS --max-time 10 --unix-socket "$SOCK" http://localhost/)
kill -TERM $pid
wait $pid
status=$?
rm -rf "$TMP"
if [ "$got" != "Hello, World!" ]; then
  echo "unix_test: got '$got'"; exit 1
fi
if [ $status -ne 0 ]; then
  echo "unix_test: the server exited with $status"; exit 1
fi
echo "unix_test: Hello, World! over a Unix-domain socket, stopped cleanly"
