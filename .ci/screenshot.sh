#!/usr/bin/env bash
# Makes resources/screenshot.png and screenshot-delta.png for the README: the built explorer in a virtual X server.
#
#   bash .ci/screenshot.sh [path/to/stepscope] [output.png]
#
# Builds nothing. The window steps the seed example 200 times (kept as a run, drawn dashed), switches to full
# attention, steps 200 more and saves the window's pixels as the X server shows them.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
binary="${1:-$here/build/app/stepscope}"
output="${2:-$here/resources/screenshot.png}"
if [ ! -x "$binary" ]; then
  echo "screenshot: no stepscope at $binary; build it first (bash setup.sh test)" >&2
  exit 2
fi
command -v xvfb-run >/dev/null || { echo "screenshot: xvfb-run is missing (apt-get install xvfb xauth)" >&2; exit 2; }

# A fresh settings folder, so no remembered window geometry or dialog folder leaks into the picture.
settings=$(mktemp -d)
trap 'rm -rf "$settings"' EXIT
XDG_CONFIG_HOME="$settings" xvfb-run -a -s "-screen 0 1600x1000x24" \
  "$binary" --steps 200 --set attention_type=full --steps 200 --screenshot "$output"
echo "screenshot: $output"
# The delta-rule family: the delta rule's signed implicit weights and its prediction error per head.
delta="$(dirname "$output")/screenshot-delta.png"
XDG_CONFIG_HOME="$settings" xvfb-run -a -s "-screen 0 1600x1000x24" \
  "$binary" --config "$here/resources/configs/delta_example.json" --attention self:1:0 \
  --state prediction-error:1 --steps 80 --screenshot "$delta"
echo "screenshot: $delta"
