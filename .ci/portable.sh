#!/usr/bin/env bash
# CI: a portable build (STEPSCOPE_NATIVE=OFF) runs on any x86-64-v2 CPU: outside the run-time
# dispatched kernels (engine/src/kernels/linear_kernels_*.cpp, in stepscope::kernels' anonymous namespace)
# its code uses no AVX register. Then the kernel tests on every instruction set this CPU has.
#
#   bash .ci/portable.sh [build-dir]      (default: build, configured with -DSTEPSCOPE_NATIVE=OFF)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
grep -q "STEPSCOPE_NATIVE:BOOL=OFF" "$build/CMakeCache.txt" || { echo "portable: $build is not configured with -DSTEPSCOPE_NATIVE=OFF" >&2; exit 1; }
cmake --build "$build" -j2 --target stepscope test_kernels
# Functions whose code names a ymm or zmm register, less the dispatched kernels.
offenders=$(objdump -d --no-show-raw-insn "$build/app/stepscope" |
  awk '/^[0-9a-f]+ <.*>:$/ { f = $2 } /%[yz]mm/ { n[f]++ } END { for (k in n) print k }' |
  grep -v "_ZN9stepscope7kernels12_GLOBAL__N_" || true)
if [ -n "$offenders" ]; then
  echo "portable: AVX code outside the dispatched kernels:" >&2
  echo "$offenders" | head -20 >&2
  exit 1
fi
echo "portable: no AVX code outside the dispatched kernels"
ctest --test-dir "$build" -R "^test_kernels" --output-on-failure
