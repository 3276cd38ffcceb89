#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench: the side-by-side benchmark (bench/bench.py; its docstring lists what it measures, the
# environment variables and the exit statuses). Uses the programs in build/bin and compiles
# bench/echo_server.c into build/bench/. Debian's python3 (python3-cryptography for TLS files).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$here/bench.py" "$@"
