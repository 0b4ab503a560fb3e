#!/usr/bin/env bash
# CI: ThreadSanitizer on the engine's thread: the engine and the run logic (ui/session, Qt Core only)
# built with -fsanitize=thread, CPU only, in build-tsan/, then the tests that drive a SessionWorker
# from another thread (stepping, cancel, rewinding through checkpoints, reset, snapshots). A report
# fails the test (halt_on_error). Qt and oneTBB are the system's, not instrumented: their own
# synchronisation is invisible to the sanitizer, so races whose stacks pass through them are
# suppressed (.ci/tsan.supp) and the tests run the engine's thread pool on one thread.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${STEPSCOPE_TSAN_BUILD_DIR:-$PWD/build-tsan}"
targets=(test_session_threads)
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g -DNDEBUG" \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" \
  -DSTEPSCOPE_GUI=OFF -DSTEPSCOPE_CUDA=OFF "${launcher[@]}"
cmake --build "$build" -j2 --target "${targets[@]}"

export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/.ci/tsan.supp"
for target in "${targets[@]}"; do
  (cd "$build/tests" && QT_QPA_PLATFORM=offscreen "./$target")
done
echo "ThreadSanitizer: no reports in ${targets[*]}"
