#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan + UBSan, in build-fuzz/ or $G4REF_FUZZ_BUILD), writes their seed
# corpora and runs each target for a short time: the CI smoke run. Any crash, leak, sanitizer report, timeout or exception without
# context fails it. Usage: tests/fuzz/smoke.sh [SECONDS_PER_TARGET]   (default 15; G4REF_FUZZ_TARGETS="a b"
# limits the targets). Needs clang-14 and libfuzzer-14-dev (setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-15}
build=${G4REF_FUZZ_BUILD:-build-fuzz}
jobs=${G4REF_FUZZ_JOBS:-2}
start=$(date +%s)

# A build folder already configured with G4REF_FUZZ=ON (tests/run.sh's sanitizer build) is used as it is;
# otherwise it is configured here for the fuzz targets alone.
if ! grep -q '^G4REF_FUZZ:BOOL=ON$' "$build/CMakeCache.txt" 2>/dev/null; then
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -G Ninja -DG4REF_FUZZ=ON -DG4REF_BUILD_TESTS=OFF \
    -DG4REF_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS=-O1 >/dev/null
fi
cmake --build "$build" -j "$jobs" --target g4ref_fuzz
# The seeds are made with a g4ref program: $G4REF_PROGRAM, the Release build's, or one built here.
program=${G4REF_PROGRAM:-}
if [ -z "$program" ] && [ -x build/eval/g4ref ]; then program=build/eval/g4ref; fi
if [ -z "$program" ]; then
  cmake --build "$build" -j "$jobs" --target g4ref_cli
  program="$build/eval/g4ref"
fi

targets=${G4REF_FUZZ_TARGETS:-$(sed -n 's/^  \(fuzz_[a-z_]*\)$/\1/p' tests/fuzz/CMakeLists.txt)}
corpus="$build/corpus"
if [ ! -f "$corpus/.complete" ]; then
  rm -rf "$corpus"
  ASAN_OPTIONS=detect_leaks=0 /usr/bin/python3 tests/fuzz/make_seeds.py "$corpus" "$program"
  touch "$corpus/.complete"
fi

# Seeds are never modified: new inputs go to a scratch corpus. detect_leaks and the limits as in the long run.
# One thread per target: the image and video targets' preprocessing is OpenMP-parallel (see long_run.sh).
export OMP_NUM_THREADS=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0
export TMPDIR=${TMPDIR:-/tmp}
fail=0
printf '%-24s %10s %8s %s\n' target execs edges result
for t in $targets; do
  work=$(mktemp -d)
  mkdir -p "$work/new"
  # Regression inputs (each finding's reproducer) run first, as plain inputs.
  if [ -d "tests/fuzz/regressions/$t" ] && ls "tests/fuzz/regressions/$t"/* >/dev/null 2>&1; then
    if ! TMPDIR="$work" "$build/tests/fuzz/$t" -rss_limit_mb=2560 -malloc_limit_mb=2048 "tests/fuzz/regressions/$t"/* >"$work/regress.log" 2>&1; then
      echo "$t: a regression input fails again:"; tail -30 "$work/regress.log"; fail=1
    fi
  fi
  set +e
  # TMPDIR inside the work folder: the targets' scratch files (fuzz_util.h) go with it.
  TMPDIR="$work" "$build/tests/fuzz/$t" "$work/new" "$corpus/$t" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2560 \
    -malloc_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/" >"$work/log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  edges=$(grep -o 'cov: [0-9]*' "$work/log" | tail -1 | awk '{print $2}')
  if [ $rc -eq 0 ]; then result=ok; else result="FAILED (rc $rc)"; fail=1; fi
  printf '%-24s %10s %8s %s\n' "$t" "${execs:-?}" "${edges:-?}" "$result"
  if [ $rc -ne 0 ]; then
    grep -E 'ERROR|finding|SUMMARY|==[0-9]+==' "$work/log" | head -20
    mkdir -p "$build/findings/$t" && cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* \
      "$build/findings/$t/" 2>/dev/null || true
    echo "  log: $build/findings/$t/log"; cp "$work/log" "$build/findings/$t/log"
  fi
  rm -rf "$work"
done
echo "fuzz smoke: $(( $(date +%s) - start )) s"
exit $fail
