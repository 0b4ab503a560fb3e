#!/usr/bin/env bash
# CI: every C++ and CUDA source is as clang-format 14 (Debian 12's) writes it with .clang-format; a file
# that is not is named with the lines it would change. Fix with: git ls-files '*.cpp' '*.h' '*.cu' '*.cuh' |
# xargs clang-format-14 -i
set -euo pipefail
cd "$(dirname "$0")/.."
format=$(command -v clang-format-14 || true)
if [[ -z "$format" ]]; then
  if [[ $(id -u) -eq 0 ]]; then
    apt-get update -qq && apt-get install -y -qq clang-format-14 >/dev/null
    format=$(command -v clang-format-14)
  else
    echo "format: clang-format-14 is not installed (apt-get install clang-format-14)" >&2
    exit 2
  fi
fi
git ls-files -z '*.cpp' '*.h' '*.cu' '*.cuh' | xargs -0 "$format" --dry-run --Werror
echo "format: $(git ls-files '*.cpp' '*.h' '*.cu' '*.cuh' | wc -l) files as clang-format 14 writes them"
