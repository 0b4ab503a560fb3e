#!/usr/bin/env bash
# Soak (a benchmark, not a test; not part of .ci/run): the seed example exported headless for
# 2,000 and for 100,000 steps while resident memory (VmRSS in /proc/PID/status) is sampled every
# second. Prints each run's resident memory at its last sample and its peak (VmHWM); memory that
# grows with the length of a run shows as the difference between the two runs.
# Usage: .ci/soak.sh [STEPSCOPE_BINARY] (default build/app/stepscope); STEPSCOPE_SOAK_STEPS
# replaces 100000.
set -euo pipefail
cd "$(dirname "$0")/.."
binary="${1:-build/app/stepscope}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

kib_field() { awk -v key="$1:" '$1 == key {print $2}' "$2" 2>/dev/null || true; }

# soak STEPS: one export, sampled each second until it exits; prints its figures in MB.
soak() {
  local steps=$1 rss="" peak="" start=$SECONDS sample
  "$binary" export --config resources/configs/seed_example.json --steps "$steps" --out "$out/run$steps" >/dev/null \
    2>"$out/stderr$steps" &
  local pid=$!
  while sample=$(kib_field VmRSS /proc/$pid/status) && [ -n "$sample" ]; do
    rss=$sample
    peak=$(kib_field VmHWM /proc/$pid/status)
    local elapsed=$((SECONDS - start))
    [ "$elapsed" -gt 0 ] && [ $((elapsed % 30)) -eq 0 ] && echo "  $steps steps: $elapsed s, VmRSS $((rss / 1024)) MB"
    sleep 1
  done
  wait "$pid" || { cat "$out/stderr$steps" >&2; return 1; }
  printf "%-22s VmRSS %5d MB at the last sample, peak %5d MB, %d s\n" "$steps steps:" $((rss / 1024)) \
    $((peak / 1024)) $((SECONDS - start))
}

soak 2000
soak "${STEPSCOPE_SOAK_STEPS:-100000}"
