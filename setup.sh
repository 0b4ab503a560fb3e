#!/usr/bin/env bash
# The README's two commands: `bash setup.sh run` builds and opens Stepscope; `bash setup.sh test` builds and runs every test.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build="${STEPSCOPE_BUILD_DIR:-$here/build}"
packages=(cmake g++ make pkg-config qt6-base-dev qt6-svg-dev libqcustomplot-dev libeigen3-dev libtbb-dev
          nlohmann-json3-dev xvfb xauth imagemagick python3-numpy)

install_missing() {
  local missing=()
  for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return
  echo "Installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

build_all() {
  # ccache, where installed, makes a rebuild after a small change take seconds.
  local launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release "${launcher[@]}"
  cmake --build "$build" -j"$(nproc)"
}

case "${1:-}" in
  run)
    install_missing
    build_all
    shift
    if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
      echo "No display found: starting Stepscope inside a virtual X server (xvfb-run)."
      exec xvfb-run -a -s "-screen 0 1600x1000x24" "$build/app/stepscope" "$@"
    fi
    exec "$build/app/stepscope" "$@"
    ;;
  test)
    install_missing
    build_all
    ctest --test-dir "$build" --output-on-failure -j2
    ;;
  *)
    echo "usage: bash setup.sh run|test" >&2
    exit 2
    ;;
esac
