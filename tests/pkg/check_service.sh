#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check_service.sh DEB_DIR: ttfd.service as the ttfd package installs it, run by a real systemd.
# The packages are installed (dpkg -i) into a throw-away root (in_overlay.sh), /etc/default/ttfd
# set to listen on port 80 with --require-auth and TTFD_JWT_SECRET, the service enabled, and the
# root booted in a container (systemd-nspawn, private network: loopback only). A probe unit inside
# checks that the hardened unit works as documented: ttfd runs as a dynamic (non-root) user holding
# only CAP_NET_BIND_SERVICE, binds port 80, sees /usr and /etc read-only and no /home, reads the
# secret from the environment file (an agent with a token signed by it gets a tunnel and a request
# goes through; a bad token is refused, ttf exits 2), keeps its name owners in
# /var/lib/ttfd/state.db (mode 600, its user's) across `systemctl restart` (another user's agent
# asking for the name is refused, the owner gets it back), and stops gracefully (exit 0) on
# `systemctl stop`. Needs root, overlayfs and systemd-nspawn (package systemd-container).
set -euo pipefail
debdir=$(cd "${1:?usage: check_service.sh DEB_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
command -v systemd-nspawn >/dev/null || { echo "FAIL: systemd-nspawn missing (package systemd-container; scripts/deps.sh installs it)"; exit 1; }
ttfd_deb=$(ls "$debdir"/ttfd_*.deb | head -n1)
ttf_deb=$(ls "$debdir"/ttf_*.deb | head -n1)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ttf-service.XXXXXX")
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT
mkdir -p "$tmp/result"
cp "$ttfd_deb" "$ttf_deb" "$tmp/"
secret=$(head -c 24 /dev/urandom | base64)
tok() {   # tok SECRET SUBJECT: an HS256 agent token
    /usr/bin/python3 -c 'import jwt, sys, time; print(jwt.encode({"sub": sys.argv[2], "exp": int(time.time()) + 600}, sys.argv[1], algorithm="HS256"))' "$1" "$2"
}
good=$(tok "$secret" alice)
other=$(tok "$secret" mallory)
bad=$(tok "not-the-secret" alice)

cat >"$tmp/probe.sh" <<'PROBE'
#!/bin/bash
# Runs inside the booted container as probe.service; writes "ok:"/"FAIL:" lines, then "DONE".
exec >/result/out 2>&1
good=$1 other=$2 bad=$3
export XDG_STATE_HOME=/tmp/ttf-state   # the agents' remembered ids
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; }
wait_for() {   # wait_for SECONDS COMMAND...: retry until it succeeds
    local end=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do [ $SECONDS -lt $end ] || return 1; sleep 0.1; done
}
if wait_for 20 bash -c 'exec 3<>/dev/tcp/127.0.0.1/80'; then ok "ttfd.service listens on port 80"; else
    fail "nothing listens on port 80"; systemctl --no-pager status ttfd; journalctl --no-pager -u ttfd; echo DONE; exit; fi
pid=$(systemctl show -P MainPID ttfd)
uid=$(awk '/^Uid:/ { print $2 }' /proc/$pid/status)
user=$(systemctl show -P User ttfd)
[ "$uid" -ge 61184 ] && [ "$uid" -le 65519 ] && ok "runs as the dynamic user $(id -nu "$uid" 2>/dev/null || echo "$uid") (uid $uid)" || fail "runs as uid $uid, not a dynamic user"
capeff=$(awk '/^CapEff:/ { print $2 }' /proc/$pid/status)
capbnd=$(awk '/^CapBnd:/ { print $2 }' /proc/$pid/status)
[ "$capeff" = 0000000000000400 ] && [ "$capbnd" = 0000000000000400 ] && ok "capabilities: CAP_NET_BIND_SERVICE only" ||
    fail "capabilities effective $capeff, bounding $capbnd (want 0x400: CAP_NET_BIND_SERVICE only)"
[ -d /var/lib/ttfd ] && [ "$(stat -L -c %u /var/lib/ttfd)" = "$uid" ] && ok "/var/lib/ttfd is its state directory" || fail "/var/lib/ttfd missing or not owned by uid $uid"
# ProtectSystem=strict, ProtectHome=: in ttfd's mount namespace even root cannot write /usr or /etc.
if nsenter --target "$pid" --mount -- sh -c 'touch /usr/.ttf-probe || touch /etc/.ttf-probe' 2>/dev/null; then
    fail "/usr or /etc is writable in ttfd's view"
else
    ok "/usr and /etc are read-only in ttfd's view"
fi
nsenter --target "$pid" --mount -- test -e /home/. && [ -z "$(nsenter --target "$pid" --mount -- ls -A /home)" ] &&
    ok "/home is empty in ttfd's view" || fail "/home is visible to ttfd"
st=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: nosuchid.tunnel.test' http://127.0.0.1/)
[ "$st" = 404 ] && ok "an unknown tunnel gets 404" || fail "unknown tunnel: HTTP $st"

# An agent with a token signed by the secret from /etc/default/ttfd, in front of a local server.
mkdir -p /tmp/www && echo "hello through the service" >/tmp/www/index.html
python3 -m http.server -b 127.0.0.1 -d /tmp/www 8000 >/tmp/www.log 2>&1 &
wait_for 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/8000' || fail "local server did not start"
# agent TOKEN OUT: ttf for the local server asking for the name "shop", in the background.
agent() { ttf -e ws://127.0.0.1:80/_tunnel -t "$1" --subdomain shop 8000 >"$2" 2>"$2.err" & }
agent "$good" /tmp/ttf.out
pid_agent=$!
if wait_for 15 grep -q '^Tunnel established: ' /tmp/ttf.out; then
    url=$(sed -n 's/^Tunnel established: //p' /tmp/ttf.out | head -n1)
    body=$(curl -s --resolve "shop.tunnel.test:80:127.0.0.1" "http://shop.tunnel.test/index.html")
    [ "$url" = http://shop.tunnel.test ] && [ "$body" = "hello through the service" ] &&
        ok "an agent with a token signed by the secret got $url; a request went through" ||
        fail "through the tunnel ($url): '$body'"
else
    fail "the agent with a good token got no tunnel: $(cat /tmp/ttf.out.err)"
fi
kill -TERM $pid_agent; wait $pid_agent
db=/var/lib/ttfd/state.db
[ -f $db ] && [ "$(stat -c %a $db)" = 600 ] && [ "$(stat -c %u $db)" = "$uid" ] &&
    ok "$db: mode 600, owned by the service's user" || fail "$db: $(stat -c '%a %u' $db 2>&1)"
systemctl restart ttfd
wait_for 20 bash -c 'exec 3<>/dev/tcp/127.0.0.1/80' || fail "ttfd did not come back after restart"
timeout 20 ttf -e ws://127.0.0.1:80/_tunnel -t "$other" --subdomain shop 8000 >/tmp/ttf2.out 2>&1
rc=$?
[ $rc = 1 ] && ok "after systemctl restart, another user's agent asking for shop is refused (exit 1)" ||
    fail "after restart, mallory asking for shop: exit $rc: $(tail -n 3 /tmp/ttf2.out)"
agent "$good" /tmp/ttf3.out
pid_agent=$!
wait_for 15 grep -q '^Tunnel established: http://shop.tunnel.test$' /tmp/ttf3.out &&
    ok "after systemctl restart, the owner gets shop back" || fail "owner after restart: $(cat /tmp/ttf3.out /tmp/ttf3.out.err)"
kill -TERM $pid_agent; wait $pid_agent
timeout 15 ttf -e ws://127.0.0.1:80/_tunnel -t "$bad" -p 8000 >/dev/null 2>&1
rc=$?
[ $rc = 2 ] && ok "a token signed with another secret is refused (ttf exits 2)" || fail "bad token: ttf exited $rc, want 2"
journalctl --no-pager -u ttfd | grep -q 'Listening on\|ttfd .*domain tunnel.test' && ok "ttfd logs to the journal" || fail "no ttfd lines in the journal"

systemctl stop ttfd
res=$(systemctl show -P Result ttfd) code=$(systemctl show -P ExecMainStatus ttfd)
[ "$res" = success ] && [ "$code" = 0 ] && ok "systemctl stop: graceful, exit 0" || fail "after stop: Result=$res ExecMainStatus=$code"
echo DONE
PROBE
chmod +x "$tmp/probe.sh"

"$here/in_overlay.sh" "$tmp" bash -euo pipefail -c '
tmp=$1 good=$2 other=$3 bad=$4 secret=$5
root=$ROOT
mount -t proc proc "$root/proc"; mount --rbind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/run"; mount -t tmpfs tmpfs "$root/tmp"
cp "$tmp"/*.deb "$root/tmp/"
chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin dpkg -i /tmp/$(basename "$tmp"/ttfd_*.deb) /tmp/$(basename "$tmp"/ttf_*.deb) >"$tmp/dpkg.log" 2>&1 ||
    { cat "$tmp/dpkg.log"; echo "FAIL: dpkg -i"; exit 1; }
umount -l "$root/tmp" "$root/run" "$root/dev" "$root/proc"
printf "TTFD_OPTS=\"--listen 127.0.0.1:80 --domain tunnel.test --require-auth\"\nTTFD_JWT_SECRET=%s\n" "$secret" >"$root/etc/default/ttfd"
chroot "$root" systemctl enable ttfd.service >/dev/null 2>&1
install -m 755 "$tmp/probe.sh" "$root/usr/local/sbin/ttf-probe"
mkdir -p "$root/etc/systemd/system"
cat >"$root/etc/systemd/system/ttf-probe.target" <<UNIT
[Unit]
Description=ttfd.service check
Wants=ttfd.service ttf-probe.service
UNIT
cat >"$root/etc/systemd/system/ttf-probe.service" <<UNIT
[Unit]
After=ttfd.service basic.target
SuccessAction=poweroff-force
FailureAction=poweroff-force
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/ttf-probe $good $other $bad
UNIT
timeout 120 systemd-nspawn --quiet --directory="$root" --register=no --keep-unit --link-journal=no \
    --private-network --bind="$tmp/result:/result" --boot -- --unit=ttf-probe.target \
    >"$tmp/nspawn.log" 2>&1 || true
 ' check_service "$tmp" "$good" "$other" "$bad" "$secret"

out=$(cat "$tmp/result/out" 2>/dev/null || true)
echo "$out"
if ! grep -q '^DONE$' <<<"$out"; then
    echo "FAIL: the probe did not finish; the container said:"; tail -n 40 "$tmp/nspawn.log"; exit 1
fi
! grep -q '^FAIL' <<<"$out"
