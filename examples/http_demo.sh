#!/bin/sh
# The README demo: start examples/http_server on a free port, talk to it
# with curl (hello, an upload, its download), print what comes back, stop
# it with SIGTERM.
#
#   sh examples/http_demo.sh [build-dir]     (default: build/release)
set -eu
BUILD=${1:-build/release}
TMP=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$TMP"' EXIT

"$BUILD/examples/http_server" --port 0 --dir "$TMP/uploads" >"$TMP/out" &
pid=$!
i=0
until grep -q "listening on" "$TMP/out"; do
  i=$((i + 1)); [ $i -lt 100 ] || { echo "http_demo: server did not start"; exit 1; }
  sleep 0.05
done
url=$(sed -n 's/^listening on //p' "$TMP/out")
echo "http_server is $(cat "$TMP/out")"

echo
echo "\$ curl $url/"
curl -sS "$url/"; echo
echo
printf 'Hello from a file, %s\n' "$(date -u)" >"$TMP/note.txt"
head -c 1048576 /dev/urandom >>"$TMP/note.txt"
echo "\$ curl -T note.txt $url/files/note.txt      # $(wc -c <"$TMP/note.txt") bytes"
curl -sS -T "$TMP/note.txt" "$url/files/note.txt"; echo
echo
echo "\$ curl $url/files/note.txt | head -1"
curl -sS "$url/files/note.txt" -o "$TMP/back.txt"
head -1 "$TMP/back.txt"
cmp -s "$TMP/note.txt" "$TMP/back.txt" && echo "(download identical to the upload: $(wc -c <"$TMP/back.txt") bytes)"
echo
echo "\$ curl -i $url/files/missing"
curl -sS -i "$url/files/missing" | head -1
echo
kill -TERM $pid
wait $pid && echo "http_server stopped cleanly"
