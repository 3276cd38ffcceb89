#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check_systemd.sh BUILD_DIR: installs BUILD_DIR into a scratch DESTDIR, points the units' ExecStart
# at the programs installed there, and runs `systemd-analyze verify` on ttfd.service (system) and
# ttf.service (user) with MANPATH on the installed man pages (Documentation=man:...). verify exits 0
# on unknown keys and unparsable values, so any line it prints fails the test too. Then
# `systemd-analyze security` must rate ttfd.service's exposure at most MAX_EXPOSURE (default 2.0).
set -euo pipefail
build=${1:?usage: check_systemd.sh BUILD_DIR}
max=${MAX_EXPOSURE:-2.0}
command -v systemd-analyze >/dev/null || { echo "systemd-analyze missing (package systemd; scripts/deps.sh installs it)"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ttf-systemd.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest
DESTDIR=$dest cmake --install "$build" >/dev/null

unit_path() {   # the installed unit file called $1
    local f
    f=$(find "$dest" -path "*/systemd/$2/$1" -type f | head -n1)
    [ -n "$f" ] || { echo "FAIL: $1 not installed under */systemd/$2/"; exit 1; }
    echo "$f"
}
sys_unit=$(unit_path ttfd.service system)
user_unit=$(unit_path ttf.service user)
man=$(find "$dest" -type d -path '*/share/man' | head -n1)
mkdir -p "$tmp/units" "$tmp/run"
chmod 700 "$tmp/run"

rc=0
# verify_unit FILE MODE-ARGS...: the unit, its ExecStart moved into DESTDIR, verified quietly.
verify_unit() {
    local src=$1 name out exe
    shift
    name=$(basename "$src")
    exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$src")
    [ -n "$exe" ] && [ -x "$dest$exe" ] || { echo "FAIL: $name: ExecStart=$exe is not installed under DESTDIR"; rc=1; return; }
    sed "s|^ExecStart=$exe|ExecStart=$dest$exe|" "$src" >"$tmp/units/$name"
    if ! out=$(MANPATH=$man XDG_RUNTIME_DIR=$tmp/run systemd-analyze "$@" verify "$tmp/units/$name" 2>&1) || [ -n "$out" ]; then
        echo "FAIL: systemd-analyze ${*:+$* }verify $name:"
        echo "$out"
        rc=1
    else
        echo "ok: systemd-analyze ${*:+$* }verify $name"
    fi
}
verify_unit "$sys_unit"
verify_unit "$user_unit" --user

# Hardening, as systemd itself rates it (0 = locked down .. 10 = unprotected).
sec=$(systemd-analyze security --offline=yes "$tmp/units/ttfd.service" 2>&1 || true)
level=$(sed -n 's/.*Overall exposure level for ttfd.service: \([0-9.]*\).*/\1/p' <<<"$sec")
if [ -z "$level" ]; then
    echo "FAIL: systemd-analyze security printed no exposure level:"; echo "$sec"; rc=1
elif awk -v l="$level" -v m="$max" 'BEGIN { exit !(l > m) }'; then
    echo "FAIL: ttfd.service exposure level $level > $max:"; grep '✗' <<<"$sec" || true; rc=1
else
    echo "ok: ttfd.service exposure level $level (at most $max)"
fi

# What the unit must keep whatever else changes (issue 13).
for want in 'DynamicUser=yes' 'AmbientCapabilities=CAP_NET_BIND_SERVICE' 'ProtectSystem=strict' \
            'StateDirectory=ttfd' 'EnvironmentFile=-' 'NoNewPrivileges=yes' \
            'ExecStart=.* --state /var/lib/ttfd/state.db '; do
    grep -q "^$want" "$sys_unit" || { echo "FAIL: ttfd.service lacks $want"; rc=1; }
done
exit $rc
