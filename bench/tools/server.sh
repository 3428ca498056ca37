# Sourced by the bench scripts: start_server NAME COMMAND... starts a
# server with --port 0 (output in $TMP/out), waits for its "listening on
# http://HOST:PORT" line and sets pid and url. Returns 1 (having said why)
# if the program is missing or did not start.
start_server() {
  name=$1; shift
  [ -x "$1" ] || { echo "$name skipped (no $1)"; return 1; }
  # GOMAXPROCS=2 start_server ...: POSIX leaves it open whether an
  # assignment before a function call is exported to what the function
  # runs, so pass it on.
  env ${GOMAXPROCS:+GOMAXPROCS="$GOMAXPROCS"} "$@" --port 0 >"$TMP/out" 2>&1 &
  pid=$!
  i=0
  while ! grep -q "listening on" "$TMP/out" && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
  url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$TMP/out" | head -1)
  [ -n "$url" ] || { echo "$name failed to start: $(cat "$TMP/out")"; kill $pid; return 1; }
}
