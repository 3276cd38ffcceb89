#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check_deb_install.sh DEB_DIR: installs ttfd_*.deb and ttf_*.deb from DEB_DIR with `dpkg -i` into a
# throw-away root, runs `ttfd --version` and `ttf --version` there, checks what the packages put in
# place (the units, verified by systemd-analyze inside the root; the man pages; the conffile and its
# mode; the service neither enabled nor started), then purges both and checks that nothing of theirs
# is left.
#
# The throw-away root is a copy-on-write overlay of this machine's root filesystem (in_overlay.sh):
# dpkg resolves the packages' Depends against this machine's
# package database and runs their maintainer scripts chrooted there, and whatever they write
# disappears with the namespace. Needs root (as `make test` runs) and overlayfs.
set -euo pipefail
debdir=$(cd "${1:?usage: check_deb_install.sh DEB_DIR}" && pwd)
ttfd_deb=$(ls "$debdir"/ttfd_*.deb 2>/dev/null | head -n1)
ttf_deb=$(ls "$debdir"/ttf_*.deb 2>/dev/null | head -n1)
[ -n "$ttfd_deb" ] && [ -n "$ttf_deb" ] || { echo "FAIL: no ttfd_*.deb / ttf_*.deb in $debdir"; exit 1; }
version=$(dpkg-deb -f "$ttfd_deb" Version)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ttf-debroot.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp "$ttfd_deb" "$ttf_deb" "$tmp/"
dpkg-deb -c "$ttfd_deb" >"$tmp/ttfd.list"
dpkg-deb -c "$ttf_deb" >"$tmp/ttf.list"

# The rest runs in the throw-away root (tests/pkg/in_overlay.sh: $ROOT, $UPPER).
"$(dirname "$0")/in_overlay.sh" "$tmp" bash -euo pipefail -c '
tmp=$1 version=$2 ttfd_deb=$(basename "$3") ttf_deb=$(basename "$4")
root=$ROOT
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/run"     # no /run/systemd/system: systemd is not running in there
mount -t tmpfs tmpfs "$root/tmp"
cp "$tmp/$ttfd_deb" "$tmp/$ttf_deb" "$root/tmp/"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"; }
rc=0
fail() { echo "FAIL: $*"; rc=1; }

# Installed on this machine already (someone followed the README)? Not in the throw-away root.
for p in ttfd ttf; do
    if in_root dpkg-query -W -f="\${db:Status-Status}" "$p" 2>/dev/null | grep -qv not-installed; then
        echo "(purging the $p this machine has, in the throw-away root only)"
        in_root dpkg --purge "$p" >/dev/null
    fi
done
echo "== dpkg -i $ttfd_deb $ttf_deb (in a throw-away root)"
in_root dpkg -i "/tmp/$ttfd_deb" "/tmp/$ttf_deb" || { echo "FAIL: dpkg -i"; exit 1; }

out=$(in_root ttfd --version) || fail "ttfd --version failed"
[ "$out" = "ttfd $version" ] || fail "ttfd --version printed \"$out\", want \"ttfd $version\""
out=$(in_root ttf --version) || fail "ttf --version failed"
[ "$out" = "ttf $version" ] || fail "ttf --version printed \"$out\", want \"ttf $version\""
echo "ok: ttfd --version and ttf --version print $version"
in_root ttfd --help >/dev/null && in_root ttf --help >/dev/null || fail "--help from the packages"

[ "$(in_root stat -c %a /etc/default/ttfd)" = 600 ] || fail "/etc/default/ttfd is not mode 600"
in_root dpkg-query --showformat="\${Conffiles}" -W ttfd | grep -q /etc/default/ttfd || fail "/etc/default/ttfd is not a conffile"
for page in ttfd.8 ttf.1; do
    in_root man -w "${page%.*}" | grep -q "/usr/share/man/man${page##*.}/$page.gz" || fail "man page $page not found by man"
done
for c in ttf ttfd; do
    in_root test -f /usr/share/bash-completion/completions/$c || fail "no bash completion for $c"
done
if ! out=$(in_root systemd-analyze verify /lib/systemd/system/ttfd.service 2>&1) || [ -n "$out" ]; then
    fail "systemd-analyze verify ttfd.service in the root: $out"
fi
if ! out=$(in_root env XDG_RUNTIME_DIR=/tmp systemd-analyze --user verify /usr/lib/systemd/user/ttf.service 2>&1) || [ -n "$out" ]; then
    fail "systemd-analyze --user verify ttf.service in the root: $out"
fi
in_root test ! -e /etc/systemd/system/multi-user.target.wants/ttfd.service || fail "ttfd.service was enabled on install"
in_root test ! -e /etc/systemd/user/default.target.wants/ttf.service || fail "ttf.service was enabled for every user on install"
[ $rc -eq 0 ] && echo "ok: files, units, man pages, completion, conffile in place"

echo "== dpkg --purge ttfd ttf"
in_root dpkg --purge ttfd ttf || { echo "FAIL: dpkg --purge"; exit 1; }
for p in ttfd ttf; do
    st=$(in_root dpkg-query -W -f="\${db:Status-Status}" "$p" 2>/dev/null || true)
    [ -z "$st" ] || [ "$st" = not-installed ] || fail "$p is still known to dpkg after purge ($st)"
done
for p in ttfd ttf; do
    while read -r mode _ _ _ _ path _; do
        case $mode in d*) continue ;; esac
        path=${path#.}
        in_root test ! -e "$path" || fail "$path (from $p) is still there after purge"
    done <"$tmp/$p.list"
done
# Nothing else of theirs in the root: the overlay upper layer holds only what dpkg itself records.
left=$(cd "$UPPER" && find . \( -type f -o -type l \) | grep -Ev "^\./(var/lib/dpkg|var/log|var/cache/(debconf|man)|var/lib/systemd/deb-systemd-(helper|user-helper)-(enabled|masked))/|^\./etc/ld\.so\.cache$" || true)
[ -z "$left" ] || fail "left behind after purge: $left"
[ -z "${DEB_TEST_SHOW_UPPER:-}" ] || (cd "$UPPER" && find . -type f | sort)
[ $rc -eq 0 ] && echo "ok: purged, nothing left"
exit $rc
' check_deb_install "$tmp" "$version" "$ttfd_deb" "$ttf_deb"
