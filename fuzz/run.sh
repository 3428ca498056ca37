#!/bin/sh
# Run each libFuzzer target for SECONDS on a copy of its seed corpus
# (fuzz/corpus/NAME; the copy grows, the checked-in seeds do not) and
# print `fuzz_NAME runs N corpus M`. Any finding (a crash, a sanitizer
# report, a hang the harness aborts on, a run over 10 s) stops with the
# reproducer's path and a non-zero exit.
#
#   cmake --preset fuzz && cmake --build --preset fuzz
#   fuzz/run.sh [build-dir] [seconds] [target...]
#
# Long runs: fuzz/run.sh build/fuzz 3600 server, or the target directly:
#   build/fuzz/fuzz/fuzz_server -detect_leaks=0 -timeout=10 DIR fuzz/corpus/server
set -eu
BUILD=${1:-build/fuzz}
SECS=${2:-60}
shift 2 2>/dev/null || shift $#
TARGETS=${*:-fields server client}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT INT TERM
status=0
for t in $TARGETS; do
  bin="$BUILD/fuzz/fuzz_$t"
  [ -x "$bin" ] || { echo "fuzz/run.sh: build $bin first" >&2; exit 2; }
  mkdir -p "$WORK/$t" "$WORK/findings"
  cp "$HERE/corpus/$t"/* "$WORK/$t"/
  # Leak checks per input are off: the runtime's threads and per-thread
  # pools hold memory across inputs by design (ASan still reports every
  # use after free, overflow and double free at once).
  if "$bin" -max_total_time="$SECS" -timeout=10 -detect_leaks=0 -print_final_stats=1 \
       -artifact_prefix="$WORK/findings/$t-" "$WORK/$t" >"$WORK/$t.log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$WORK/$t.log")
    echo "fuzz_$t runs ${runs:-?} corpus $(ls "$WORK/$t" | wc -l)"
  else
    echo "fuzz_$t: FINDING" >&2
    grep -v '^INFO\|^#' "$WORK/$t.log" | tail -40 >&2
    for f in "$WORK/findings"/*; do
      [ -f "$f" ] || continue
      mkdir -p "$HERE/findings"
      cp "$f" "$HERE/findings/" && echo "reproducer: fuzz/findings/$(basename "$f")" >&2
    done
    status=1
  fi
done
exit $status
