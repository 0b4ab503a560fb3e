#!/usr/bin/env bash
# CI: libFuzzer (clang, with AddressSanitizer and UndefinedBehaviorSanitizer) on the readers of
# untrusted files: safetensors, the builder config, the session and the CSV input, and on what opens
# them: token models (vocabulary, task, evaluation set), snapshots restored and stepped, and sessions
# with token input and interventions, opened and stepped. Each runs for
# STEPSCOPE_FUZZ_SECONDS (default 60) from its seed corpus in tests/fuzz/corpus/, mutating with the
# tokens of tests/fuzz/<target>.dict. A crash, a leak,
# an input slower than 10 s or one needing over 2 GB fails the run; its input is left in
# build-fuzz/crashes/<target>/ and belongs in tests/fuzz/regressions/<target>/ with the fix, where
# the test suite replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${STEPSCOPE_FUZZ_SECONDS:-60}"
build="${STEPSCOPE_FUZZ_BUILD_DIR:-$PWD/build-fuzz}"
targets=(safetensors config session csv token_model snapshot token_session)

# Debian's clang and its libFuzzer runtime, on a fresh machine.
missing=()
for package in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Release -DSTEPSCOPE_CUDA=OFF \
  -DSTEPSCOPE_BUILD_UI=OFF -DSTEPSCOPE_BUILD_TESTS=OFF -DSTEPSCOPE_FUZZ=ON "${launcher[@]}"
cmake --build "$build" -j2 --target "${targets[@]/#/fuzz_}"

export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
failed=()
for target in "${targets[@]}"; do
  # New inputs go into the first folder, a scratch one; the committed seeds stay as they are.
  mkdir -p "$build/corpus/$target" "$build/crashes/$target"
  echo "== fuzz_$target for ${seconds} s"
  "$build/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -dict="tests/fuzz/$target.dict" -artifact_prefix="$build/crashes/$target/" \
    "$build/corpus/$target" "tests/fuzz/corpus/$target" \
    || failed+=("$target")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found crashes in: ${failed[*]} (inputs in $build/crashes/)" >&2
  exit 1
fi
echo "fuzzing: no crashes in ${targets[*]}"
