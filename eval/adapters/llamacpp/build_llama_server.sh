#!/usr/bin/env bash
# Builds llama.cpp's own llama-server (CPU only, that one target) from the llama.cpp source that the npm package
# node-llama-cpp ships (llama/gitRelease.bundle), as a dependency the endpoint cross-check tests run against.
# Nothing of it is copied into this project: the source is cloned from the bundle into the build cache and built
# there, once; later runs reuse the binary.
#   eval/adapters/llamacpp/build_llama_server.sh [BUILD_DIR]   (default: .cache/llama-server in the repository)
# Prints the path of the binary on its last line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../../.." && pwd)"
bundle="$here/node_modules/node-llama-cpp/llama/gitRelease.bundle"
out="${1:-$repo_root/.cache/llama-server}"
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
# No downloads at build time (no prebuilt web UI), no HTTPS, no tests or examples; portable code.
cmake -S "$out/src" -B "$out/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
  -DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON \
  -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_APP=OFF >/dev/null
cmake --build "$out/build" --target llama-server -j "$(nproc)" >/dev/null
[ -x "$binary" ] || { echo "build_llama_server: $binary was not built" >&2; exit 1; }
echo "$binary"
