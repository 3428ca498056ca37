#!/bin/sh
# Start each server on loopback, warm it, run wrk twice, print
# `name req_per_s` per run (and p99 latency, socket errors).
#
#   bench/http_compare.sh [build-dir] [duration] [connections]
#
# Servers: anything below that exists. Each prints "listening on
# http://HOST:PORT" when ready (port 0 = a free port).
#   corio tcp_hello at loop-only / 1 / 2 workers, its raw libuv peer,
#   the Go peer (GOMAXPROCS=2), and, once built, the HTTP servers: the raw
#   libuv + llhttp peer, the Go net/http peer and examples/http_server.
#
# For corio servers on workers it also prints, from per-thread CPU time
# (/proc/PID/task/*/stat) over the two measured runs, the loop thread's
# share of the process' CPU and the CPU per request:
# `name loop_cpu_share 0.31 cpu_us_per_req 9.8 loop_us_per_req 3.0`.
#
# UPLOAD=1 adds, for the servers with PUT /files/NAME (go_http,
# corio_http_server*), one 1 GiB streamed upload (curl -T -, chunked):
# `name upload_MB_per_s X` (MB = 10^6 bytes).
set -eu
BUILD=${1:-build/release}
DUR=${2:-10s}
CONNS=${3:-64}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT INT TERM

command -v wrk >/dev/null || { echo "http_compare: needs wrk (apt-get install wrk)" >&2; exit 2; }

# Go peers, built into $TMP if Go is there.
if command -v go >/dev/null; then
  for p in go-tcp-hello go-http; do
    if [ -d "$HERE/peers/$p" ]; then
      (cd "$HERE/peers/$p" && GOFLAGS=-mod=mod GOCACHE="$TMP/gocache" go build -o "$TMP/$p" .) ||
        echo "http_compare: could not build $p" >&2
    fi
  done
fi

# CPU ticks of every thread of a process: "comm ticks" per line.
thread_ticks() {
  for f in /proc/"$1"/task/*/stat; do
    sed 's/^[0-9]* (\(.*\)) /\1 /' "$f" 2>/dev/null | awk '{print $1, $14 + $15}'
  done
}

cpu_report() { # name, before-file, after-file, requests
  awk -v name="$1" -v reqs="$4" -v hz="$(getconf CLK_TCK)" '
    FNR == NR { before[$1] += $2; next }
    { after[$1] += $2 }
    END {
      for (c in after) { delta = after[c] - before[c]; all += delta; if (c == "corio-loop") loop = delta }
      if (all > 0 && reqs > 0)
        printf "%s loop_cpu_share %.2f cpu_us_per_req %.1f loop_us_per_req %.1f\n",
               name, loop / all, all * 1e6 / hz / reqs, loop * 1e6 / hz / reqs
    }' "$2" "$3"
}

. "$HERE/tools/server.sh"

run() { # name, path, command...
  start_server "$@" || return 0
  wrk -t1 -c"$CONNS" -d2s "$url/" >/dev/null 2>&1 # warm up
  thread_ticks $pid >"$TMP/ticks0"
  reqs=0
  for r in 1 2; do
    wrk -t1 -c"$CONNS" -d"$DUR" --latency "$url/" >"$TMP/wrk" 2>&1
    reqs=$((reqs + $(awk '/requests in/ {print $1}' "$TMP/wrk")))
    rps=$(awk '/Requests\/sec/ {print $2}' "$TMP/wrk")
    p99=$(awk '$1 == "99%" {print $2}' "$TMP/wrk")
    errs=$(awk '/Socket errors/ {print}' "$TMP/wrk")
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$TMP/wrk")
    echo "$name $rps p99=$p99 ${errs:+[$errs]}${non2xx:+ non2xx=$non2xx}"
  done
  thread_ticks $pid >"$TMP/ticks1"
  if grep -q '^corio-w' "$TMP/ticks1"; then
    cpu_report "$name" "$TMP/ticks0" "$TMP/ticks1" "$reqs"
  fi
  if [ "${UPLOAD:-}" = 1 ]; then
    case $name in go_http_*|corio_http_server*) upload "${name%_hello}" "$url" ;; esac
  fi
  kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true
}

upload() { # name, url: stream 1 GiB of zeros to PUT /files/big
  res=$(head -c 1073741824 /dev/zero |
        curl -s -o /dev/null -w '%{http_code} %{speed_upload}' -T - "$2/files/big") || true
  rm -f "$TMP"/up*/big
  case $res in
    201\ *) echo "$1 upload_MB_per_s $(echo "${res#* }" | awk '{printf "%.0f", $1 / 1e6}')" ;;
    *) echo "$1 upload failed (HTTP ${res%% *})" ;;
  esac
}

# Side by side: each corio server loop-only, then its
# peers, then corio on workers.
run corio_tcp_hello "$BUILD/examples/tcp_hello" --loop-only
run libuv_tcp_hello "$BUILD/bench/tcp_hello_uv"
GOMAXPROCS=2 run go_tcp_hello "$TMP/go-tcp-hello"
run corio_tcp_hello_1w "$BUILD/examples/tcp_hello" --workers 1
run corio_tcp_hello_2w "$BUILD/examples/tcp_hello" --workers 2
run corio_http_server "$BUILD/examples/http_server" --dir "$TMP/up2" --loop-only
run libuv_http_hello "$BUILD/bench/http_hello_uv"
GOMAXPROCS=2 run go_http_hello "$TMP/go-http" --dir "$TMP/up"
run corio_http_server_1w "$BUILD/examples/http_server" --dir "$TMP/up2" --workers 1
run corio_http_server_2w "$BUILD/examples/http_server" --dir "$TMP/up2" --workers 2
