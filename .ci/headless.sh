#!/usr/bin/env bash
# CI: the headless build (no Qt Widgets, no QCustomPlot, no CUDA): the engine, the headless commands and the
# engine tests, as a server or a library user builds them; with the test-only attention kind of tests/toy_kind/
# registered, so every test that loops over the registry runs it too.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${STEPSCOPE_HEADLESS_BUILD_DIR:-$PWD/build-headless}"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTEPSCOPE_GUI=OFF -DSTEPSCOPE_CUDA=OFF -DSTEPSCOPE_TOY_KIND=ON \
  "${launcher[@]}"
cmake --build "$build" -j2
ctest --test-dir "$build" --output-on-failure -j2
