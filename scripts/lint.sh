#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Static checks: clang-format (dry run), cppcheck, clang-tidy on the C sources.
set -uo pipefail
cd "$(dirname "$0")/.."
rc=0
files=$(git ls-files '*.c' '*.h')
echo "== license headers"
/usr/bin/python3 scripts/spdx.py || rc=1
echo "== clang-format"
for f in $files; do clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || { echo "needs format: $f"; rc=1; }; done
echo "== cppcheck"
cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance --std=c11 -DTUNNEL_VERSION=\"0\" \
    --suppress=missingIncludeSystem --inline-suppr -D_GNU_SOURCE -Ilib $(git ls-files '*.c' | grep -v '^fuzz/') || rc=1
echo "== clang-tidy"
[ -f build/compile_commands.json ] || cmake -S . -B build >/dev/null
for f in $(git ls-files 'lib/*.c' 'server/*.c' 'agent/*.c' 'lambda/*.c'); do
    clang-tidy -quiet -p build --extra-arg=-Wno-unknown-warning-option "$f" 2>/dev/null | grep -E 'warning:|error:' && rc=1
done
exit $rc
