#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: build with CUDA, run test_cuda and the bench on both devices; results under $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-$PWD/gpu-check}"
build="${STEPSCOPE_BUILD_DIR:-$PWD/build-gpu}"
mkdir -p "$out"
nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || true

golden=()
[ -n "${STEPSCOPE_GOLDEN_DIR:-}" ] && golden=(-DSTEPSCOPE_GOLDEN_DIR="$STEPSCOPE_GOLDEN_DIR")
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTEPSCOPE_CUDA=ON "${golden[@]}" > "$out/configure.log" 2>&1
cmake --build "$build" -j"$(nproc)" --target test_cuda stepscope > "$out/build.log" 2>&1

status=0
QT_QPA_PLATFORM=offscreen "$build/tests/test_cuda" -o "$out/test_cuda.txt,txt" -o -,txt || status=$?

for device in cuda cpu; do
  for attention in linear full; do
    for batch in 1 10 256; do
      "$build/app/stepscope" bench --device "$device" --attention "$attention" --batch "$batch" --json \
        > "$out/bench_${device}_${attention}_${batch}.json" || status=$?
    done
  done
  for batch in 1 10; do
    "$build/app/stepscope" bench --device "$device" --precision bf16 --batch "$batch" --json \
      > "$out/bench_${device}_linear_${batch}_bf16.json" || status=$?
  done
  "$build/app/stepscope" bench --device "$device" --attention full --steps 4096 --repeats 2 --json \
    > "$out/bench_${device}_full_10_4096.json" || status=$?
done
exit "$status"
