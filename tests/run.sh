#!/usr/bin/env bash
# Builds g4ref and runs every test: the Release build under ctest; then one clang-14 build with AddressSanitizer +
# UndefinedBehaviorSanitizer and libFuzzer's coverage instrumentation, portable (-DG4REF_NATIVE=OFF), in which the
# unit tests run again, whose exact-mode logits are compared with the native Release build's, and whose fuzz
# targets run the fuzz smoke test (tests/fuzz/smoke.sh, 10 s per target; G4REF_FUZZ_SECONDS changes it, 0 skips
# it). Usage: tests/run.sh   (from anywhere; needs setup.sh first)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
# Each stage's heading says how long the run has taken so far.
stage() { echo "== $* ($SECONDS s so far)"; }

stage "Release build and tests"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"
stage "Include order (tests/check_include_order.py)"
python3 tests/check_include_order.py
ctest --test-dir build --output-on-failure -j "$jobs"

stage "AddressSanitizer + UndefinedBehaviorSanitizer build (unit tests and fuzz targets) and tests"
# -O1: the usual sanitizer optimization level. clang-14 (libFuzzer's compiler, installed by setup.sh): with the
# sanitizers it builds the library and the tests in about 60 % of the CPU time g++ 12 needs, and it checks the
# code with a second compiler's instrumentation; the Release build above stays g++. G4REF_FUZZ adds the coverage
# instrumentation libFuzzer needs, so this one build of the library serves the unit tests and the fuzz targets.
cmake -S . -B build-asan -G Ninja -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS=-O1 -DG4REF_SANITIZE=ON -DG4REF_FUZZ=ON -DG4REF_BUILD_BENCH=OFF \
  -DG4REF_NATIVE=OFF >/dev/null
cmake --build build-asan -j "$jobs" --target g4ref_unit_tests g4ref_cli g4ref_fuzz
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Six tests spend their time in llama.cpp child processes and in long media prompts through the model, which the
# shorter prompts of the other tests already run through the same code: two cross-checks, and four media harness
# runs (every media task on both backends, 220 s here under the sanitizers; the long conversation of the context
# cap, 283 s; the kill -9 and resume of a media run, 212 s, whose resume logic HarnessCli.KillNineThenResumeLosesNothing
# runs here on text; the media parts through a server, 113 s, whose parsing Server.* and Endpoint.* run here). Under
# the sanitizers they would take about half of this stage, so they run in the Release build only, as does the full
# demo (its --quick test runs here).
ctest --test-dir build-asan --output-on-failure -j "$jobs" \
  -E 'VideoFramesAndLlamaCppsFlashAttentionDrift|QuantizersAreByteIdenticalToLlamaCpps|Demo.JsonHasEverySection|MediaHarness.ContextCapExcludesAndCountsTheLongConversation|MediaHarness.EveryTaskOnTheReferenceAndOnLlamaCppAuditedByTheReference|MediaHarness.KillNineDuringAMediaRunThenResumeLosesNothing|MediaHarness.EndpointWithMediaPartsAndItsBudgetCheck'

stage "Exact mode of two builds: native g++ Release vs portable (baseline x86-64) clang sanitizer build"
# Float64 rounding only (FMA or not, SIMD width, compiler): at most 1e-13 relative on the logits.
python3 tests/compare_builds.py build/eval/g4ref build-asan/eval/g4ref --bound 1e-13


fuzz_seconds=${G4REF_FUZZ_SECONDS:-10}
if [ "$fuzz_seconds" != "0" ]; then
  stage "Fuzz smoke run (tests/fuzz/smoke.sh, $fuzz_seconds s per target)"
  G4REF_FUZZ_BUILD=build-asan G4REF_FUZZ_JOBS="$jobs" tests/fuzz/smoke.sh "$fuzz_seconds"
fi
stage "All tests passed"
