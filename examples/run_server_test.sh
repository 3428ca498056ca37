#!/bin/sh
# run_server_test.sh: smoke test of an example server over loopback.
#
#   run_server_test.sh [--startup SECS] [--stop SECS] \
#       SERVER [SERVER_ARGS...] -- CHECK [CHECK_ARGS...]
#
# Starts SERVER SERVER_ARGS --host 127.0.0.1 --port 0 in the background
# (SERVER may be a wrapper such as valgrind, with the server binary among
# its arguments), waits up to --startup seconds (default 10) for its
# "listening on SCHEME://HOST:PORT" line, runs CHECK against PORT, then
# sends SIGTERM and requires the server to exit with status 0 within
# --stop seconds (default 10; after that it is killed, with a backtrace of
# every thread first if gdb can attach). CHECK is one of:
#
#   echo CLIENT [ARGS...]   CLIENT --host 127.0.0.1 --port PORT ARGS...
#                           must exit 0 (echo_client)
#   hello                   curl on http://127.0.0.1:PORT/ must get
#                           "Hello, World!", three times on one connection
#                           (tcp_hello)
#
# Exit status: 0 passed, 1 failed, 2 usage, 77 skipped (no curl for
# `hello`; ctest's SKIP_RETURN_CODE). The server's stderr (Valgrind's
# report, when wrapped) is shown whenever it is not empty.
#
# Plain POSIX sh: the server and check words are told apart by "--", and
# the functions below pick their part out of the whole argument list
# (their own "$@"), since sh has no arrays.

startup=10
stop=10
while :; do
  case $1 in
    --startup) startup=$2; shift 2 ;;
    --stop) stop=$2; shift 2 ;;
    *) break ;;
  esac
done

usage() {
  echo "usage: $0 [--startup SECS] [--stop SECS] SERVER [ARGS...] -- echo CLIENT [ARGS...] | hello" >&2
  exit 2
}

# Count the words on each side of "--"; the first after it is the check.
words_before=0
words_after=0
kind=
seen=0
for w in "$@"; do
  if [ $seen = 0 ] && [ "x$w" = x-- ]; then
    seen=1
  elif [ $seen = 0 ]; then
    words_before=$((words_before + 1))
  else
    [ $words_after = 0 ] && kind=$w
    words_after=$((words_after + 1))
  fi
done
[ $words_before -gt 0 ] && [ $words_after -gt 0 ] || usage
case $kind in
  echo) [ $words_after -ge 2 ] || usage ;;
  hello)
    if ! command -v curl >/dev/null 2>&1; then
      echo "SKIP: curl not found" >&2
      exit 77
    fi
    ;;
  *) usage ;;
esac

dir=$(mktemp -d "${TMPDIR:-/tmp}/corio_server_test.XXXXXX") || exit 1
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

show_server_stderr() {
  if [ -s "$dir/err" ]; then
    echo "--- server stderr:" >&2
    cat "$dir/err" >&2
    echo "---" >&2
  fi
}

fail() {
  echo "FAIL: $*" >&2
  show_server_stderr
  exit 1
}

# start_server and run_check keep their part of the arguments (before or
# after "--"): each word is shifted off the front and, if it belongs to
# the part, appended at the back.
start_server() {
  n=$#
  after=0
  while [ $n -gt 0 ]; do
    if [ $after = 0 ] && [ "x$1" = x-- ]; then
      after=1
    elif [ $after = 0 ]; then
      set -- "$@" "$1"
    fi
    shift
    n=$((n - 1))
  done
  echo "server: $* --host 127.0.0.1 --port 0"
  "$@" --host 127.0.0.1 --port 0 >"$dir/out" 2>"$dir/err" </dev/null &
  pid=$!
}

run_check() {
  n=$#
  after=0
  while [ $n -gt 0 ]; do
    if [ $after = 0 ] && [ "x$1" = x-- ]; then
      after=1
    elif [ $after = 1 ]; then
      set -- "$@" "$1"
    fi
    shift
    n=$((n - 1))
  done
  shift # the kind, checked above
  case $kind in
    echo)
      client=$1
      shift
      echo "check: $client --host 127.0.0.1 --port $port $*"
      "$client" --host 127.0.0.1 --port "$port" "$@"
      status=$?
      [ $status = 0 ] || { echo "FAIL: the client exited with status $status" >&2; return 1; }
      ;;
    hello)
      url=http://127.0.0.1:$port/
      echo "check: curl -s -m 5 $url $url $url"
      # Three requests on one keep-alive connection.
      body=$(curl -s -m 5 "$url" "$url" "$url")
      status=$?
      [ $status = 0 ] || { echo "FAIL: curl exited with status $status" >&2; return 1; }
      [ "x$body" = "xHello, World!Hello, World!Hello, World!" ] ||
        { echo "FAIL: unexpected body: $body" >&2; return 1; }
      ;;
  esac
  return 0
}

start_server "$@"

# Wait for the "listening on" line, which carries the port.
port=
ticks=0
while :; do
  port=$(sed -n 's|^listening on [a-z]*://.*:\([0-9][0-9]*\)$|\1|p' "$dir/out" | head -n 1)
  [ -n "$port" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid"
    status=$?
    pid=
    fail "the server exited with status $status before listening"
  fi
  ticks=$((ticks + 1))
  [ $ticks -ge $((startup * 10)) ] && fail "no \"listening on\" line within ${startup}s"
  sleep 0.1
done
head -n 1 "$dir/out"

run_check "$@"
check=$?

# Stop the server: SIGTERM, then a bounded wait for a clean exit.
kill -TERM "$pid" 2>/dev/null
ticks=0
while kill -0 "$pid" 2>/dev/null; do
  ticks=$((ticks + 1))
  if [ $ticks -ge $((stop * 10)) ]; then
    echo "FAIL: the server did not exit within ${stop}s of SIGTERM" >&2
    if command -v gdb >/dev/null 2>&1; then
      timeout 60 gdb -p "$pid" -batch -ex 'thread apply all bt' </dev/null >&2 2>&1
    fi
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pid=
    show_server_stderr
    exit 1
  fi
  sleep 0.1
done
wait "$pid"
status=$?
pid=
[ $status = 0 ] || fail "the server exited with status $status after SIGTERM"
show_server_stderr
[ $check = 0 ] || exit 1
echo "PASS"
exit 0
