#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench-profile: perf profile of the bulk path (bench/profile.py says what and how).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$here/profile.py" "$@"
