#!/usr/bin/env bash
# The main job from a fresh Debian 12 machine, in one command: installs every dependency (setup.sh, without the
# llama-server that only the tests use), builds the g4ref program in build/ (Release, tuned for this CPU; the
# program is build/g4ref), and runs `build/g4ref demo` with the arguments given here (e.g. --quick, --json).
# Usage: ./demo.sh [demo options]   (as root, or with sudo for apt-get)
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh --skip-llama-server
echo "demo.sh: building build/g4ref"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target g4ref_cli
exec build/g4ref demo "$@"
