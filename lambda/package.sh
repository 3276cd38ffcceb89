#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# package.sh PROGRAM ZIP LOADER READELF STRIP LIBDIR... - builds ZIP (docs/serverless.md
# "Packaging"):
#   bootstrap        PROGRAM (linked with interpreter /var/task/lib/LOADER and RPATH /var/task/lib)
#   lib/LOADER       the dynamic loader
#   lib/*.so*        every shared library PROGRAM needs, and theirs (DT_NEEDED, found in the
#                    LIBDIRs: the target's multiarch directories), real files, no symlinks
# readelf rather than ldd, so that a cross-built (arm64) program is packed the same way.
set -euo pipefail
prog=$1 zip=$2 loader=$3 readelf=$4 strip=$5
shift 5
libdirs=("$@")
out=$(dirname "$zip")
stage=$out/pkg-$(basename "$zip" .zip)
rm -rf "$stage" "$zip"
mkdir -p "$stage/lib"
install -m 0755 "$prog" "$stage/bootstrap"
"$strip" --strip-all "$stage/bootstrap"

find_lib() {
    local d
    for d in "${libdirs[@]}"; do
        [ -e "$d/$1" ] && { echo "$d/$1"; return 0; }
    done
    return 1
}
needed() { "$readelf" -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }

queue=("$stage/bootstrap")
declare -A seen=()
while [ ${#queue[@]} -gt 0 ]; do
    f=${queue[0]}
    queue=("${queue[@]:1}")
    for lib in $(needed "$f"); do
        [ -n "${seen[$lib]:-}" ] && continue
        seen[$lib]=1
        path=$(find_lib "$lib") || { echo "package.sh: missing library $lib (needed by $f)" >&2; exit 1; }
        install -m 0644 "$(readlink -f "$path")" "$stage/lib/$lib"
        queue+=("$stage/lib/$lib")
    done
done
path=$(find_lib "$loader") || { echo "package.sh: no dynamic loader $loader" >&2; exit 1; }
install -m 0755 "$(readlink -f "$path")" "$stage/lib/$loader"
(cd "$stage" && zip -q -9 -X -r "$(basename "$zip")" bootstrap lib && mv "$(basename "$zip")" "$zip")
echo "package.sh: $zip ($(du -k "$zip" | cut -f1) KiB, $(ls "$stage/lib" | wc -l) files in lib/)"
