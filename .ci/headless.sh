#!/usr/bin/env bash
# CI: the headless build (no Qt Widgets, no QCustomPlot, no CUDA): the engine, the headless commands and the
# engine tests, as a server or a library user builds them.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${STEPSCOPE_HEADLESS_BUILD_DIR:-$PWD/build-headless}"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTEPSCOPE_GUI=OFF -DSTEPSCOPE_CUDA=OFF
cmake --build "$build" -j2
ctest --test-dir "$build" --output-on-failure -j2
