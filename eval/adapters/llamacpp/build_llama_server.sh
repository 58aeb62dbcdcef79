#!/usr/bin/env bash
# Builds llama.cpp's own llama-server (CPU only, that one target) from the llama.cpp source that the npm package
# node-llama-cpp ships (llama/gitRelease.bundle), as a dependency the endpoint cross-check tests run against.
# Nothing of it is copied into this project: the source is cloned from the bundle into the build cache and built
# there, once; later runs reuse the binary.
#   eval/adapters/llamacpp/build_llama_server.sh [--speed] [BUILD_DIR]
# The tests' build (default BUILD_DIR .cache/llama-server in the repository) is compiled at -O1: the tests run it on
# tiny synthetic checkpoints, where its speed does not matter, and it builds in about half the time of -O3 (its
# numbers do not depend on the level: no fast-math at any of them). --speed builds llama.cpp's own Release (-O3) into
# .cache/llama-server-speed instead, for reports/performance.py, whose llama.cpp speeds must be llama.cpp's: tuned for
# this CPU (GGML_NATIVE=ON, llama.cpp's own default, so AVX-512 and its bf16 dot products where the CPU has them), as
# the reference's default build is. The tests' build is portable (GGML_NATIVE=OFF: AVX2, no AVX-512).
# Prints the path of the binary on its last line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../../.." && pwd)"
bundle="$here/node_modules/node-llama-cpp/llama/gitRelease.bundle"
speed=0
if [ "${1:-}" = "--speed" ]; then speed=1; shift; fi
case "${1:-}" in -*) echo "build_llama_server: unknown option '$1' (expected --speed [BUILD_DIR])" >&2; exit 2 ;; esac
if [ "$speed" = 1 ]; then
  out="${1:-$repo_root/.cache/llama-server-speed}"
  opt=(-DGGML_NATIVE=ON)
else
  out="${1:-$repo_root/.cache/llama-server}"
  opt=(-DGGML_NATIVE=OFF -DCMAKE_C_FLAGS_RELEASE="-O1 -DNDEBUG" -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG")
fi
binary="$out/build/bin/llama-server"
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi
[ -f "$bundle" ] || { echo "build_llama_server: $bundle is missing (run setup.sh)" >&2; exit 1; }
mkdir -p "$out"
if [ ! -d "$out/src/.git" ]; then
  rm -rf "$out/src"
  git clone -q "$bundle" "$out/src"
fi
# No downloads at build time (no prebuilt web UI), no HTTPS, no tests or examples.
cmake -S "$out/src" -B "$out/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF "${opt[@]}" \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON \
  -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_APP=OFF >/dev/null
cmake --build "$out/build" --target llama-server -j "$(nproc)" >/dev/null
[ -x "$binary" ] || { echo "build_llama_server: $binary was not built" >&2; exit 1; }
echo "$binary"
