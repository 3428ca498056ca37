#!/bin/sh
# The scheduler figures of corio-bench beside Go's, in one run:
#
#   bench/sched_compare.sh [build-dir] [rounds]
#
# For each round and each job (spawn, skynet, fanout, chan, mutex, timer)
# runs corio on 1 and 2 workers and the Go peer (bench/peers/go) at
# GOMAXPROCS=1 and 2, interleaved, and prints every figure as
# `who job name value unit`, e.g. `corio-w2 chan chan_pingpong_ns 206 ns`.
# With WORKERS="8 16" it also runs corio oversubscribed (more workers than
# cores). Needs golang-go for the Go lines (skipped without it).
set -eu
BUILD=${1:-build/release}
ROUNDS=${2:-3}
JOBS=${JOBS:-spawn skynet fanout chan mutex timer}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
BENCH="$BUILD/bench/corio-bench"
[ -x "$BENCH" ] || { echo "sched_compare: build $BENCH first" >&2; exit 2; }

GO=""
if command -v go >/dev/null; then
  (cd "$HERE/peers/go" && GOFLAGS=-mod=mod GOCACHE="$TMP/gocache" go build -o "$TMP/gopeer" .) &&
    GO="$TMP/gopeer"
fi

label() { sed "/^#/d; s/^/$1 $2 /"; }

r=0
while [ "$r" -lt "$ROUNDS" ]; do
  for job in $JOBS; do
    for w in 1 2 ${WORKERS:-}; do
      case "$job" in
        fanout) [ "$w" = 1 ] && "$BENCH" fanout | label corio "$job" ;; # 1 vs 2 inside
        *) "$BENCH" "$job" --workers "$w" | label "corio-w$w" "$job" ;;
      esac
    done
    if [ -n "$GO" ]; then
      case "$job" in
        fanout|mutex) "$GO" "$job" | label go "$job" ;;  # sets GOMAXPROCS itself
        *) for m in 1 2; do GOMAXPROCS=$m "$GO" "$job" | label "go-p$m" "$job"; done ;;
      esac
    fi
  done
  r=$((r + 1))
done
