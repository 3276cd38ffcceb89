#!/usr/bin/env bash
# package.sh BOOTSTRAP LAUNCHER OUTDIR - builds OUTDIR/bootstrap.zip:
#   bootstrap                    the static launcher (zip root, what Lambda runs)
#   bin/bootstrap                the real program
#   lib/ld-linux-x86-64.so.2     the dynamic loader it was linked against
#   lib/*.so*                    every shared library it needs (ldd), real files, no symlinks
set -euo pipefail
prog=$1 launcher=$2 out=$3
stage=$out/pkg
rm -rf "$stage" "$out/bootstrap.zip"
mkdir -p "$stage/bin" "$stage/lib"
install -m 0755 "$launcher" "$stage/bootstrap"
install -m 0755 "$prog" "$stage/bin/bootstrap"
strip --strip-debug "$stage/bin/bootstrap" "$stage/bootstrap" 2>/dev/null || true
loader=""
while read -r line; do
    case $line in
    *"=> not found"*) echo "package.sh: missing library: $line" >&2; exit 1 ;;
    *"=> /"*) lib=$(sed -E 's/.*=> ([^ ]+).*/\1/' <<<"$line")
              install -m 0644 "$(readlink -f "$lib")" "$stage/lib/$(basename "$lib")" ;;
    /*ld-linux*) loader=$(awk '{print $1}' <<<"$line") ;;
    esac
done < <(ldd "$prog")
[ -n "$loader" ] || { echo "package.sh: no dynamic loader found" >&2; exit 1; }
install -m 0755 "$(readlink -f "$loader")" "$stage/lib/ld-linux-x86-64.so.2"
(cd "$stage" && zip -q -X -r "../bootstrap.zip" bootstrap bin lib)
echo "package.sh: $out/bootstrap.zip ($(du -k "$out/bootstrap.zip" | cut -f1) KiB, $(ls "$stage/lib" | wc -l) files in lib/)"
