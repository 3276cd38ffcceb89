#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check_install.sh SOURCE_DIR: `make install PREFIX=... DESTDIR=...` from SOURCE_DIR (in a scratch
# build directory) installs ttf, ttfd, their man pages, both systemd units, bash completion for
# both and the environment files, with the units naming the installed paths; the programs run from
# there; a second install keeps an edited /etc/default/ttfd; `cmake --install` of the same build
# installs the same files; `cmake --install --prefix OTHER` refuses (the units would point at the
# configured prefix).
set -euo pipefail
src=${1:?usage: check_install.sh SOURCE_DIR}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ttf-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=/srv/http-tunnel
rc=0
fail() { echo "FAIL: $*"; rc=1; }

if ! make -s -C "$src" install BUILD="$tmp/build" PREFIX=$prefix DESTDIR="$tmp/a" JOBS="${JOBS:-2}" \
        >"$tmp/make.log" 2>&1; then
    cat "$tmp/make.log"; echo "FAIL: make install"; exit 1
fi
root=$tmp/a$prefix
for f in bin/ttf sbin/ttfd share/man/man1/ttf.1 share/man/man8/ttfd.8 \
         lib/systemd/system/ttfd.service lib/systemd/user/ttf.service \
         share/bash-completion/completions/ttf share/bash-completion/completions/ttfd \
         share/doc/ttf/examples/ttf.env etc/default/ttfd; do
    [ -f "$root/$f" ] || fail "make install did not install $prefix/$f"
done
[ "$(find "$tmp/a" -type f | wc -l)" -eq 10 ] || { fail "unexpected files installed:"; find "$tmp/a" -type f; }
[ "$(stat -c %a "$root/etc/default/ttfd")" = 600 ] || fail "etc/default/ttfd is not mode 600"
[ -x "$root/bin/ttf" ] && [ -x "$root/sbin/ttfd" ] || fail "programs not executable"

grep -qx "ExecStart=$prefix/sbin/ttfd --state /var/lib/ttfd/state.db \$TTFD_OPTS" "$root/lib/systemd/system/ttfd.service" ||
    fail "ttfd.service: ExecStart does not name $prefix/sbin/ttfd: $(grep ^ExecStart "$root/lib/systemd/system/ttfd.service")"
grep -qx "EnvironmentFile=-$prefix/etc/default/ttfd" "$root/lib/systemd/system/ttfd.service" ||
    fail "ttfd.service: EnvironmentFile does not name $prefix/etc/default/ttfd"
grep -q "^ExecStart=$prefix/bin/ttf " "$root/lib/systemd/user/ttf.service" ||
    fail "ttf.service: ExecStart does not name $prefix/bin/ttf"

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$tmp/build/CMakeCache.txt")
for p in bin/ttf sbin/ttfd; do
    out=$("$root/$p" --version) || fail "$p --version failed"
    [ "$out" = "$(basename $p) $version" ] || fail "$p --version printed '$out', want '$(basename $p) $version'"
done

# A second install keeps the administrator's environment file.
echo 'TTFD_OPTS="--listen 0.0.0.0:8443"' >"$root/etc/default/ttfd"
make -s -C "$src" install BUILD="$tmp/build" PREFIX=$prefix DESTDIR="$tmp/a" >/dev/null 2>&1 || fail "second make install"
grep -q 8443 "$root/etc/default/ttfd" || fail "a second make install overwrote etc/default/ttfd"

# cmake --install does the same as make install.
DESTDIR="$tmp/b" cmake --install "$tmp/build" >/dev/null || fail "cmake --install"
diff <(cd "$tmp/a" && find . -type f | sort) <(cd "$tmp/b" && find . -type f | sort) ||
    fail "cmake --install and make install installed different files"
if DESTDIR="$tmp/c" cmake --install "$tmp/build" --prefix /elsewhere >"$tmp/c.log" 2>&1; then
    fail "cmake --install --prefix /elsewhere succeeded with units naming $prefix"
else
    grep -q "configure with" "$tmp/c.log" || { cat "$tmp/c.log"; fail "no explanation from cmake --install --prefix"; }
fi
[ $rc -eq 0 ] && echo "ok: make install and cmake --install into PREFIX=$prefix DESTDIR=..."
exit $rc
