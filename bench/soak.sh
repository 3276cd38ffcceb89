#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench-soak: minutes of mixed load through ttfd + ttf, RSS and fds over time (bench/soak.py
# says what it does, its environment variables and when it fails). Not part of `make test`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$here/soak.py" "$@"
