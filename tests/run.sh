#!/usr/bin/env bash
# Builds g4ref and runs every test: the Release build under ctest, then the same unit tests built again with
# AddressSanitizer + UndefinedBehaviorSanitizer, then the fuzz smoke run (tests/fuzz/smoke.sh, 15 s per target;
# G4REF_FUZZ_SECONDS changes it, 0 skips it). Usage: tests/run.sh   (from anywhere; needs setup.sh first)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

echo "== Release build and tests"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"
echo "== Include order (tests/check_include_order.py)"
python3 tests/check_include_order.py
ctest --test-dir build --output-on-failure -j "$jobs"

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
# -O1: the usual sanitizer optimization level, and a quicker build than Release.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS=-O1 -DG4REF_SANITIZE=ON \
  -DG4REF_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j "$jobs" --target g4ref_unit_tests g4ref_cli
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan --output-on-failure -j "$jobs"

fuzz_seconds=${G4REF_FUZZ_SECONDS:-15}
if [ "$fuzz_seconds" != "0" ]; then
  echo "== Fuzz smoke run (tests/fuzz/smoke.sh, $fuzz_seconds s per target)"
  G4REF_FUZZ_JOBS="$jobs" tests/fuzz/smoke.sh "$fuzz_seconds"
fi
