#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# deb.sh [OUTDIR]: builds the Debian packages ttfd_VERSION_ARCH.deb and ttf_VERSION_ARCH.deb with
# debhelper (debian/) into OUTDIR (default build-deb/), then runs lintian on them: errors fail,
# warnings are printed. `make deb` calls it; the CTest test deb_build too.
#
# The build happens in a copy of the work tree's files (tracked and untracked-not-ignored, as they
# are now) under OUTDIR/src/, because dpkg-buildpackage writes its results next to the source tree.
# Environment: JOBS (parallel build jobs, default nproc), LINTIAN=0 to skip lintian.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/build-deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)
jobs=${JOBS:-$(nproc)}

for tool in dpkg-buildpackage dh lintian fakeroot; do
    command -v "$tool" >/dev/null || { echo "deb: $tool missing: run scripts/deps.sh deb" >&2; exit 1; }
done
version=$(cd "$here" && dpkg-parsechangelog -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
src=$out/src/http-tunnel-$version
rm -rf "$out/src"
mkdir -p "$src"
if git -C "$here" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$here" && git ls-files -z --cached --others --exclude-standard |
        tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -x -C "$src"
else
    (cd "$here" && tar --exclude='./build*' --exclude='./.git' --exclude='node_modules' -cf - .) | tar -x -C "$src"
fi

echo "deb: building http-tunnel $version for $arch in $src"
log=$out/build.log
if ! (cd "$src" && DEB_BUILD_OPTIONS="parallel=$jobs ${DEB_BUILD_OPTIONS:-}" \
        dpkg-buildpackage --build=binary --no-sign -j"$jobs") >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "deb: dpkg-buildpackage failed (whole log: $log)" >&2
    exit 1
fi
rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out"/
rm -rf "$out/src"
ls -1 "$out"/*.deb

if [ "${LINTIAN:-1}" != 0 ]; then
    echo "deb: lintian"
    # Errors fail; warnings and informational tags are printed for a human to judge.
    lintian --fail-on error --display-info "$out"/*.changes
fi
