#!/usr/bin/env bash
# CI: builds the stepscope binary alone, validates its desktop entry and AppStream metadata, checks
# `cmake --install`, builds the Debian package with cpack, installs it with apt, runs
# `stepscope --version` and starts the window offscreen, then removes the package again.
#
#   bash .ci/package.sh            (as root, after `bash setup.sh test` has installed the build packages)
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v desktop-file-validate >/dev/null || missing+=(desktop-file-utils)
command -v appstreamcli >/dev/null || missing+=(appstream)
command -v dpkg-shlibdeps >/dev/null || missing+=(dpkg-dev)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
build="${STEPSCOPE_PACKAGE_BUILD_DIR:-$PWD/build-package}"
app_id=io.github.stepscope.Stepscope
component_id=io.github.stepscope.stepscope

desktop-file-validate "resources/$app_id.desktop"
appstreamcli validate --no-net --pedantic "resources/$component_id.metainfo.xml"

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTEPSCOPE_CUDA=OFF -DSTEPSCOPE_BUILD_TESTS=OFF \
      ${CMAKE_CXX_COMPILER_LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER=$CMAKE_CXX_COMPILER_LAUNCHER}
cmake --build "$build" -j2 --target stepscope

staging=$(mktemp -d)
scratch=$(mktemp -d)
trap 'rm -rf "$staging" "$scratch"' EXIT
cmake --install "$build" --prefix "$staging/usr" >/dev/null
for f in bin/stepscope share/applications/$app_id.desktop share/metainfo/$component_id.metainfo.xml \
         share/icons/hicolor/scalable/apps/stepscope.svg share/icons/hicolor/64x64/apps/stepscope.png \
         share/doc/stepscope/README.md share/doc/stepscope/copyright; do
  [ -f "$staging/usr/$f" ] || { echo "package: cmake --install did not install $f" >&2; exit 1; }
done
desktop-file-validate "$staging/usr/share/applications/$app_id.desktop"

(cd "$build" && cpack -G DEB >/dev/null)
deb=$(ls -t "$build"/stepscope_*.deb | head -1)
echo "package: $deb"
dpkg-deb --field "$deb" Package Version Depends

export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "$deb" >/dev/null
trap 'apt-get remove -y -q stepscope >/dev/null; rm -rf "$staging" "$scratch"' EXIT
/usr/bin/stepscope --version
# It starts: the explorer steps the seed example and saves a screenshot on the offscreen platform.
XDG_CONFIG_HOME="$scratch" QT_QPA_PLATFORM=offscreen /usr/bin/stepscope --steps 3 --screenshot "$scratch/started.png" >/dev/null
[ -s "$scratch/started.png" ]
echo "package: installed, ran --version and started"
