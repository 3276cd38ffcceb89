#!/bin/sh
# SPDX-License-Identifier: MIT
# jansson and json-c both export json_object_get and json_object_iter_next, different functions by
# the same names; the linker binds each name to the first library on the link line that has it.
# Only jansson's users call them (the wire codec, on json-c, must not), so every program that
# imports one of them must import jansson's version: json-c's json_object_get would take a json_t
# for its own type and corrupt memory. Checks ttfd, ttf, bootstrap (required) and every other
# program of the build, and the arm64 zip's bootstrap when there is one.
# Usage: check_json_symbols.sh BUILD_DIR PROGRAM...
set -eu
build=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0
checked=0
check() {
    syms=$(readelf --dyn-syms -W "$1" | awk '$8 ~ /^json_object_(get|iter_next)@/ { print $8 }')
    for s in $syms; do
        case $s in
        *@libjansson.so.4) ;;
        *) echo "FAIL: $1 imports $s (must be @libjansson.so.4)"; bad=1 ;;
        esac
    done
    checked=$((checked + 1))
}
for p in "$@"; do
    [ -f "$p" ] || { echo "FAIL: $p missing"; exit 1; }
    check "$p"
done
for p in $(find "$build/bin" "$build/tests" "$build/fuzz" "$build/lambda" -maxdepth 1 -type f -perm -u+x 2>/dev/null); do
    head -c 4 "$p" | grep -q ELF && check "$p"
done
if [ -f "$build/lambda/bootstrap-arm64.zip" ]; then
    unzip -p "$build/lambda/bootstrap-arm64.zip" bootstrap >"$tmp/bootstrap-arm64"
    check "$tmp/bootstrap-arm64"
fi
echo "json_symbols: $checked programs checked"
exit $bad
