#!/bin/sh
# What the counters of corio_rt_metrics cost: the same jobs with them
# (WITH, default build/release) and without (WITHOUT, default
# build/nometrics, configured with -DCORIO_METRICS=OFF and built here if
# missing), alternated ROUNDS times; prints `who name value unit` lines and
# the medians' ratios `ratio name with/without`.
#
#   bench/metrics_cost.sh [with-build] [without-build] [rounds]
#
# Jobs: corio-bench chan (ping-pong, 2 workers), corio-bench spawn (1 and
# 2 workers), and examples/http_server under wrk -t1 -c64 -d3s (if wrk).
set -eu
WITH=${1:-build/release}
WITHOUT=${2:-build/nometrics}
ROUNDS=${3:-5}
HERE=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT INT TERM

if [ ! -x "$WITHOUT/bench/corio-bench" ]; then
  cmake -S "$HERE" -B "$WITHOUT" --preset release -DCORIO_METRICS=OFF -DCORIO_BUILD_TESTS=OFF >/dev/null
  cmake --build "$WITHOUT" -j2 --target corio-bench http_server >/dev/null
fi

http() { # build -> req/s
  "$1/examples/http_server" --port 0 >"$TMP/srv" 2>&1 &
  pid=$!
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    grep -q listening "$TMP/srv" && break
    sleep 0.2
  done
  url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$TMP/srv" | head -1)
  wrk -t1 -c64 -d3s "$url/" 2>/dev/null | awk '/Requests\/sec/ {print $2}'
  kill $pid
  wait $pid 2>/dev/null || true
}

r=0
while [ $r -lt "$ROUNDS" ]; do
  for who in with without; do
    b=$WITH
    [ $who = without ] && b=$WITHOUT
    "$b/bench/corio-bench" chan --workers 2 | awk -v w=$who '/pingpong_ns/ {print w, $1, $2, $3}'
    "$b/bench/corio-bench" spawn --workers 2 | awk -v w=$who '{print w, $1 "_2w", $2, $3}'
    "$b/bench/corio-bench" spawn --workers 1 | awk -v w=$who '{print w, $1 "_1w", $2, $3}'
    if command -v wrk >/dev/null; then
      echo "$who http_req_per_s $(http "$b") req/s"
    fi
  done
  r=$((r + 1))
done | tee "$TMP/all"

# medians and their ratio, per name
for name in $(awk '{print $2}' "$TMP/all" | sort -u); do
  w=$(awk -v n="$name" '$1 == "with" && $2 == n {print $3}' "$TMP/all" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  o=$(awk -v n="$name" '$1 == "without" && $2 == n {print $3}' "$TMP/all" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "ratio $name $(awk -v a="$w" -v b="$o" 'BEGIN {printf "%.3f", a / b}') with/without (medians $w / $o)"
done
