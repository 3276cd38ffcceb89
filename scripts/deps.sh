#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what a make target needs, only where it is missing (idempotent).
#
#   scripts/deps.sh build   compile ttfd and ttf (make install)
#   scripts/deps.sh demo    build + the demo app (make demo): Python's FastAPI and uvicorn, curl
#   scripts/deps.sh deb     build + Debian's packaging tools (make deb)
#   scripts/deps.sh [all]   everything the tests need (make test): the above, clang tools, valgrind,
#                           cmocka, libcurl, pytest, systemd (systemd-analyze, systemd-nspawn), Node.js
#                           and the npm packages of the AWS stand-in (tests/aws) and of infra/
#   scripts/deps.sh bench   all + the tools the benchmark measures the tunnel against and profiles
#                           it with (make bench, bench-profile, bench-soak)
#   scripts/deps.sh arm64   build + the arm64 cross toolchain and libraries of the Lambda (also with
#                           ARCH=arm64 in the environment): make lambda ARCH=arm64, make test
#
# Debian bookworm packages via apt-get; npm packages for the AWS stand-in under tests/aws and for
# the Pulumi program under infra/.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
profile=${1:-all}

build=(build-essential cmake pkg-config libevent-dev libssl-dev libwslay-dev
       libjansson-dev libjson-c-dev libjwt-dev libsqlite3-dev libqrencode-dev libyaml-dev)
demo=(python3 python3-fastapi python3-uvicorn curl)
deb=(debhelper dpkg-dev fakeroot lintian)
tests=(clang clang-format clang-tidy cppcheck valgrind libcurl4-openssl-dev libcmocka-dev sqlite3
       zip unzip openssl python3-pytest python3-jwt python3-cryptography systemd
       systemd-container bash-completion groff-base man-db nodejs npm
       chromium tmux zbar-tools llvm libclang-rt-dev)
# llvm (llvm-cov, llvm-profdata) and libclang-rt-dev (the libFuzzer runtime, only a Recommends of
# clang): make fuzz, make fuzz-coverage. libqrencode: ttf --qr. chromium (headless, driven by playwright-core from tests/ui), tmux and
# zbar-tools (zbarimg reads the QR code back): the inspector's and the terminal view's tests.
case $profile in
    build) debs=("${build[@]}") ;;
    demo) debs=("${build[@]}" "${demo[@]}") ;;
    deb) debs=("${build[@]}" "${deb[@]}") ;;
    all) debs=("${build[@]}" "${demo[@]}" "${deb[@]}" "${tests[@]}") ;;
    bench) debs=("${build[@]}" "${demo[@]}" "${deb[@]}" "${tests[@]}"
                 wrk nginx haproxy openssh-server openssh-client linux-perf) ;;
    arm64) debs=("${build[@]}") ;;   # + the cross toolchain and arm64 libraries, below
    *) echo "usage: $0 [build|demo|deb|all|bench|arm64]" >&2; exit 64 ;;
esac

# One dpkg-query for all of them (fast when nothing is missing).
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${debs[@]}" 2>/dev/null | awk '$2 == "installed" { print $1 }' || true)
missing=()
for p in "${debs[@]}"; do
    # nodejs/npm may come from another source (nodesource): a binary on PATH is enough.
    case $p in nodejs) command -v node >/dev/null && continue ;; npm) command -v npm >/dev/null && continue ;; esac
    grep -qx "$p" <<<"$installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# arm64 Lambda (make lambda ARCH=arm64, and its test under qemu): Debian's cross toolchain and the
# arm64 multiarch -dev packages of the Lambda's libraries. Only when asked for (ARCH=arm64, or
# `deps.sh arm64`), so that `make demo` stays lean.
if [ "${ARCH:-}" = arm64 ] || [ "$profile" = arm64 ]; then
    # Only packages that are co-installable with their amd64 twins (Multi-Arch: same): the -dev
    # packages of libevent and wslay are not (installing them would remove the amd64 ones), and the
    # Lambda needs neither.
    arm_debs=(crossbuild-essential-arm64 qemu-user-static
              libcurl4-openssl-dev:arm64 libssl-dev:arm64 libjansson-dev:arm64 libjson-c-dev:arm64
              libjwt-dev:arm64 libbrotli-dev:arm64 zlib1g-dev:arm64)
    arm_missing=()
    for p in "${arm_debs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || arm_missing+=("$p")
    done
    if [ ${#arm_missing[@]} -gt 0 ]; then
        echo "deps: installing ${arm_missing[*]}"
        dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64
        $SUDO apt-get update -qq
        # --no-remove: never trade an amd64 package for its arm64 twin
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends --no-remove \
            "${arm_missing[@]}"
    fi
fi

# Node packages: for the tests only (make demo, install and deb need none).
[ "$profile" = all ] || [ "$profile" = bench ] || exit 0

# npm packages for the local AWS stand-in (dynalite and friends), pinned by its package-lock.
if [ -f "$here/tests/aws/package.json" ]; then
    if [ ! -d "$here/tests/aws/node_modules" ] || [ "$here/tests/aws/package.json" -nt "$here/tests/aws/node_modules" ]; then
        echo "deps: npm install in tests/aws"
        (cd "$here/tests/aws" && npm install --no-audit --no-fund --loglevel=error && touch node_modules)
    fi
fi

# npm packages of the Pulumi program (@pulumi/pulumi, @pulumi/aws, typescript), exactly as locked.
if [ -f "$here/infra/package-lock.json" ]; then
    if [ ! -d "$here/infra/node_modules" ] || [ "$here/infra/package-lock.json" -nt "$here/infra/node_modules" ]; then
        echo "deps: npm ci in infra"
        (cd "$here/infra" && npm ci --no-audit --no-fund --loglevel=error && touch node_modules)
    fi
fi

# playwright-core (tests/ui, pinned by its package-lock.json) drives Debian's chromium.
if [ -f "$here/tests/ui/package-lock.json" ]; then
    if [ ! -d "$here/tests/ui/node_modules/playwright-core" ] || [ "$here/tests/ui/package-lock.json" -nt "$here/tests/ui/node_modules" ]; then
        echo "deps: npm ci in tests/ui"
        (cd "$here/tests/ui" && npm ci --no-audit --no-fund --loglevel=error && touch node_modules)
    fi
fi
