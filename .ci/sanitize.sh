#!/usr/bin/env bash
# CI: the engine, the stepscope CLI and every test built with AddressSanitizer and
# UndefinedBehaviorSanitizer (-fno-sanitize-recover: any report ends the process, so its test
# fails), CPU only, in build-asan/, then the whole test suite run with it.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${STEPSCOPE_ASAN_BUILD_DIR:-$PWD/build-asan}"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

# -O1, as AddressSanitizer's documentation advises: a lighter build than -O3, with exact reports.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" -DSTEPSCOPE_CUDA=OFF \
  -DSTEPSCOPE_SANITIZE=ON "${launcher[@]}"
cmake --build "$build" -j2

# Leaks fail a test too.
export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1"
export LSAN_OPTIONS="suppressions=$PWD/.ci/lsan.supp"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --test-dir "$build" --output-on-failure -j2
