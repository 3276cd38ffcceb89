#!/usr/bin/env bash
# Installs what building and testing need, only where it is missing (idempotent).
# Debian bookworm packages via apt-get; npm packages for the AWS stand-in under tests/aws and for
# the Pulumi program under infra/.
# Usage: deps.sh [bench]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

debs=(build-essential cmake pkg-config clang clang-format clang-tidy cppcheck valgrind
      libevent-dev libssl-dev libwslay-dev libjansson-dev libjwt-dev
      libcurl4-openssl-dev libcmocka-dev libsqlite3-dev sqlite3 zip unzip openssl curl
      python3 python3-pytest python3-fastapi python3-uvicorn python3-jwt python3-cryptography
      nodejs npm)
# `deps.sh bench` (make bench, bench-profile, bench-soak): also the tools the benchmark measures the
# tunnel against and profiles it with; `make test` and `make demo` do not pull them.
if [ "${1:-}" = bench ]; then
    debs+=(wrk nginx haproxy openssh-server openssh-client linux-perf)
fi
missing=()
for p in "${debs[@]}"; do
    # nodejs/npm may come from another source (nodesource): a binary on PATH is enough.
    case $p in nodejs) command -v node >/dev/null && continue ;; npm) command -v npm >/dev/null && continue ;; esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# arm64 Lambda (make lambda ARCH=arm64, and its test under qemu): Debian's cross toolchain and the
# arm64 multiarch -dev packages of the Lambda's libraries. Only when asked for (ARCH=arm64, or
# `deps.sh arm64`), so that `make demo` stays lean.
if [ "${ARCH:-}" = arm64 ] || [ "${1:-}" = arm64 ]; then
    # Only packages that are co-installable with their amd64 twins (Multi-Arch: same): the -dev
    # packages of libevent and wslay are not (installing them would remove the amd64 ones), and the
    # Lambda needs neither.
    arm_debs=(crossbuild-essential-arm64 qemu-user-static
              libcurl4-openssl-dev:arm64 libssl-dev:arm64 libjansson-dev:arm64 libjwt-dev:arm64
              libbrotli-dev:arm64 zlib1g-dev:arm64)
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
