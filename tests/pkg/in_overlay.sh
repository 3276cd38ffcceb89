#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# in_overlay.sh WORKDIR SCRIPT [ARG...]: runs SCRIPT with ROOT set to a throw-away copy of this
# machine's root filesystem: an overlay (lower: /, upper: a tmpfs under WORKDIR) in a private mount
# namespace, so that whatever SCRIPT installs or changes under ROOT vanishes when it exits, and the
# machine is left as it was. UPPER names the upper layer (what was changed). Needs root.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "FAIL: needs root (mount namespace, overlayfs)"; exit 1; }
work=${1:?usage: in_overlay.sh WORKDIR SCRIPT [ARG...]}
shift
exec unshare --mount --propagation private -- bash -euo pipefail -c '
work=$1
shift
mkdir -p "$work/layer" "$work/root"
mount -t tmpfs -o size=1g tmpfs "$work/layer"
mkdir -p "$work/layer/upper" "$work/layer/work"
mount -t overlay overlay -o "lowerdir=/,upperdir=$work/layer/upper,workdir=$work/layer/work" "$work/root"
export ROOT=$work/root UPPER=$work/layer/upper
exec "$@"
' in_overlay "$work" "$@"
