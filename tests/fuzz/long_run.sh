#!/usr/bin/env bash
# The long fuzz run (tests/fuzz/README.md): each target in turn, at nice 10, until RUNS executions (default
# 1,000,000) or SECONDS seconds (default 3600) per target, whichever comes first, on a persistent corpus in
# build-fuzz/long/<target>. Appends one line per target to build-fuzz/long/results.txt: executions, edges,
# features, corpus size, and the outcome. Usage: tests/fuzz/long_run.sh [RUNS] [SECONDS] [TARGET...]
# Run tests/fuzz/smoke.sh first (it builds the targets and the seed corpora).
set -uo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-1000000}
seconds=${2:-3600}
shift 2 2>/dev/null || shift $#
build=${G4REF_FUZZ_BUILD:-build-fuzz}
targets=${*:-$(sed -n 's/^  \(fuzz_[a-z_]*\)$/\1/p' tests/fuzz/CMakeLists.txt)}
# One thread per target: the image and video targets' preprocessing is OpenMP-parallel, and its worker threads would
# take the core another target runs on (libFuzzer's executions per second are per process either way).
export OMP_NUM_THREADS=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0
mkdir -p "$build/long"
for t in $targets; do
  dir="$build/long/$t"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  log="$dir/log.$(date +%Y%m%d-%H%M%S)"
  # The target's scratch files (fuzz_util.h) go to a folder of its own, removed after the run.
  mkdir -p "$dir/tmp"
  TMPDIR="$dir/tmp" nice -n 10 "$build/tests/fuzz/$t" "$dir/corpus" "$build/corpus/$t" -runs="$runs" -max_total_time="$seconds" \
    -timeout=20 -rss_limit_mb=2560 -malloc_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/" >"$log" 2>&1
  rc=$?
  rm -rf "$dir/tmp"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  line=$(grep -E '^#[0-9]+' "$log" | tail -1)
  edges=$(echo "$line" | grep -o 'cov: [0-9]*' | awk '{print $2}')
  ft=$(echo "$line" | grep -o 'ft: [0-9]*' | awk '{print $2}')
  corp=$(echo "$line" | grep -o 'corp: [0-9]*' | awk '{print $2}')
  secs=$(sed -n 's/^stat::.*//p' "$log" >/dev/null; grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | awk '{print $5}')
  outcome=$([ $rc -eq 0 ] && echo ok || echo "FAILED rc=$rc (see $log, $dir/artifacts)")
  printf '%s %-24s execs=%s edges=%s ft=%s corpus=%s seconds=%s %s\n' "$(date -u +%FT%TZ)" "$t" "${execs:-?}" \
    "${edges:-?}" "${ft:-?}" "${corp:-?}" "${secs:-?}" "$outcome" | tee -a "$build/long/results.txt"
done
