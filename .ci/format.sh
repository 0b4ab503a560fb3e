#!/usr/bin/env bash
# CI: every C++, CUDA and inline-kernel file is as clang-format (.clang-format) writes it. Fix with
#   git ls-files '*.cpp' '*.h' '*.cu' '*.cuh' '*.inl' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends clang-format
fi
git ls-files '*.cpp' '*.h' '*.cu' '*.cuh' '*.inl' | xargs clang-format --dry-run -Werror
echo "format: $(git ls-files '*.cpp' '*.h' '*.cu' '*.cuh' '*.inl' | wc -l) files as clang-format writes them"
