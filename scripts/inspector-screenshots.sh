#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Saves the inspector screenshots the README shows (docs/inspector-list.png and
# docs/inspector-detail.png) with headless Chromium. Needs `make build` and scripts/deps.sh.
#   scripts/inspector-screenshots.sh [OUT_DIR]      (default: docs/)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
exec /usr/bin/python3 "$here/tests/ui/screenshots.py" "${1:-$here/docs}"
