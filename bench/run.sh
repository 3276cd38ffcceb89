#!/usr/bin/env bash
# Benchmark (make bench): small-request throughput through the tunnel versus direct, and the peak
# memory of ttfd and ttf during 100 MB transfers. Uses the programs in build/bin (builds nothing
# of the project; compiles bench/echo_server.c into build/bench/). Exits non-zero when a target
# is missed: tunnel throughput >= 1/3 of direct, ttfd and ttf peak RSS < 64 MB.
#
# Environment: BUILD (build), BENCH_DURATION (5 s), BENCH_CONNECTIONS (32), BENCH_THREADS (1),
# BENCH_PROTOCOL (binary; or json), BENCH_MB (100), BENCH_ROUNDS (3: direct and tunnel runs are
# alternated and the best of each kept, so load from other processes biases neither side).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$here/build}
TTFD_BIN=${TTFD_BIN:-$BUILD/bin/ttfd}
TTF_BIN=${TTF_BIN:-$BUILD/bin/ttf}
DURATION=${BENCH_DURATION:-5}
CONNS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-1}
PROTOCOL=${BENCH_PROTOCOL:-binary}
MBYTES=${BENCH_MB:-100}
ROUNDS=${BENCH_ROUNDS:-3}
if [ "$PROTOCOL" = json ] && [ "$MBYTES" -gt 9 ]; then
    echo "bench: JSON mode caps bodies at 10 MiB: transfers of 9 MB instead of $MBYTES MB"
    MBYTES=9
fi
RSS_LIMIT_KB=$((64 * 1024))

for b in "$TTFD_BIN" "$TTF_BIN"; do
    [ -x "$b" ] || { echo "bench: $b not found; run 'make build' first" >&2; exit 1; }
done
if ! command -v wrk >/dev/null; then
    echo "bench: installing wrk (Debian package)"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get install -y -qq wrk >/dev/null 2>&1 ||
        { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq wrk >/dev/null; }
fi

mkdir -p "$BUILD/bench"
cc -O2 -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -o "$BUILD/bench/echo_server" "$here/bench/echo_server.c"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ttf-bench.XXXXXX")
pids=()
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    local i
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[i]}" 2>/dev/null || continue
        for _ in $(seq 50); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "${pids[i]}" 2>/dev/null || true
        wait "${pids[i]}" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_line FILE REGEX PID: print the first line of FILE matching REGEX (deadline 20 s).
wait_line() {
    for _ in $(seq 200); do
        if grep -m1 -E "$2" "$1" 2>/dev/null; then return 0; fi
        kill -0 "$3" 2>/dev/null || { echo "bench: process $3 exited:" >&2; cat "$1" "$1.err" >&2 || true; exit 1; }
        sleep 0.1
    done
    echo "bench: timed out waiting for /$2/ in $1" >&2
    exit 1
}

"$BUILD/bench/echo_server" >"$tmp/echo.out" 2>"$tmp/echo.out.err" &
pids+=($!)
local_port=$(wait_line "$tmp/echo.out" '^PORT ' "${pids[-1]}" | cut -d' ' -f2)

"$TTFD_BIN" --listen 127.0.0.1:0 >"$tmp/ttfd.out" 2>"$tmp/ttfd.out.err" &
pids+=($!)
ttfd_pid=${pids[-1]}
port=$(wait_line "$tmp/ttfd.out" '^Listening on ' "$ttfd_pid" | sed -E 's|^Listening on https?://[^ ]*:([0-9]+) .*|\1|')

"$TTF_BIN" -e "ws://127.0.0.1:$port/_tunnel" -p "$local_port" --protocol "$PROTOCOL" \
    >"$tmp/ttf.out" 2>"$tmp/ttf.out.err" &
pids+=($!)
ttf_pid=${pids[-1]}
url=$(wait_line "$tmp/ttf.out" '^Tunnel established: ' "$ttf_pid" | cut -d' ' -f3)
host=${url#*://}
host=${host%/}
echo "bench: local service :$local_port, ttfd :$port, tunnel $url ($PROTOCOL mode), $(nproc) cores"

rps() { # wrk output -> requests/s
    awk '/^Requests\/sec:/ {print $2}' "$1"
}
run_wrk() { # name, extra wrk args...
    local name=$1
    shift
    wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "$@" >"$tmp/wrk.$name" 2>&1 || true
    if [ -z "$(rps "$tmp/wrk.$name")" ]; then
        echo "bench: wrk ($name) failed:" >&2
        cat "$tmp/wrk.$name" >&2
        exit 1
    fi
    local errs
    errs=$(grep -E 'Non-2xx|Socket errors' "$tmp/wrk.$name" || true)
    [ -z "$errs" ] || echo "bench: wrk ($name): $errs" >&2
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime, in clock ticks
nreq() { awk '/requests in/ {print $1}' "$1"; }
echo_pid=${pids[0]}
direct=0 tunnel=0 p99_direct="" p99_tunnel="" req_direct=0 req_tunnel=0
cpu_echo_direct=0 cpu_ttfd=0 cpu_ttf=0
for round in $(seq "$ROUNDS"); do
    e0=$(cpu_ticks "$echo_pid")
    run_wrk direct "http://127.0.0.1:$local_port/"
    cpu_echo_direct=$((cpu_echo_direct + $(cpu_ticks "$echo_pid") - e0))
    req_direct=$((req_direct + $(nreq "$tmp/wrk.direct")))
    d0=$(cpu_ticks "$ttfd_pid")
    a0=$(cpu_ticks "$ttf_pid")
    run_wrk tunnel -H "Host: $host" "http://127.0.0.1:$port/"
    cpu_ttfd=$((cpu_ttfd + $(cpu_ticks "$ttfd_pid") - d0))
    cpu_ttf=$((cpu_ttf + $(cpu_ticks "$ttf_pid") - a0))
    req_tunnel=$((req_tunnel + $(nreq "$tmp/wrk.tunnel")))
    d=$(rps "$tmp/wrk.direct")
    t=$(rps "$tmp/wrk.tunnel")
    echo "bench: round $round: direct $d req/s, tunnel $t req/s"
    if awk -v a="$d" -v b="$direct" 'BEGIN {exit !(a > b)}'; then
        direct=$d
        p99_direct=$(awk '$1 == "99%" {print $2}' "$tmp/wrk.direct")
    fi
    if awk -v a="$t" -v b="$tunnel" 'BEGIN {exit !(a > b)}'; then
        tunnel=$t
        p99_tunnel=$(awk '$1 == "99%" {print $2}' "$tmp/wrk.tunnel")
    fi
done

# 100 MB through the tunnel each way, then the peak RSS (VmHWM) of both programs.
bytes=$((MBYTES * 1024 * 1024))
down=$(curl -sS -o /dev/null -H "Host: $host" -w '%{http_code} %{size_download} %{speed_download}' \
    "http://127.0.0.1:$port/bytes/$bytes")
truncate -s "$bytes" "$tmp/upload.bin"
up=$(curl -sS -o /dev/null -H "Host: $host" -T "$tmp/upload.bin" -w '%{http_code} %{size_upload} %{speed_upload}' \
    "http://127.0.0.1:$port/upload")
hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
rss_ttfd=$(hwm "$ttfd_pid")
rss_ttf=$(hwm "$ttf_pid")

fail=0
ratio=$(awk -v t="$tunnel" -v d="$direct" 'BEGIN {printf "%.3f", t / d}')
echo
printf '%-50s %10s %10s\n' "small requests (wrk -t$THREADS -c$CONNS -d${DURATION}s, best of $ROUNDS)" "req/s" "p99"
printf '%-50s %10.0f %10s\n' "  direct to the local service" "$direct" "$p99_direct"
printf '%-50s %10.0f %10s\n' "  through the tunnel" "$tunnel" "$p99_tunnel"
if awk -v r="$ratio" 'BEGIN {exit !(r >= 1/3)}'; then
    echo "  ratio tunnel/direct: $ratio (target >= 0.333): OK"
else
    echo "  ratio tunnel/direct: $ratio (target >= 0.333): MISSED"
    fail=1
fi
# CPU per request: independent of the load other processes put on the machine.
hz=$(getconf CLK_TCK)
us() { awk -v t="$1" -v n="$2" -v hz="$hz" 'BEGIN {printf "%.0f", n ? t * 1e6 / hz / n : 0}'; }
echo "  CPU per request: local service $(us "$cpu_echo_direct" "$req_direct") us (direct)," \
    "ttfd $(us "$cpu_ttfd" "$req_tunnel") us, ttf $(us "$cpu_ttf" "$req_tunnel") us (tunnel)"
read -r dcode dsize dspeed <<<"$down"
read -r ucode usize uspeed <<<"$up"
echo
echo "$MBYTES MB download: HTTP $dcode, $dsize bytes, $(awk -v s="$dspeed" 'BEGIN {printf "%.0f", s / 1048576}') MB/s"
echo "$MBYTES MB upload:   HTTP $ucode, $usize bytes, $(awk -v s="$uspeed" 'BEGIN {printf "%.0f", s / 1048576}') MB/s"
if [ "$dcode" != 200 ] || [ "$dsize" != "$bytes" ]; then echo "  download: FAILED"; fail=1; fi
if [ "$ucode" != 200 ] || [ "$usize" != "$bytes" ]; then echo "  upload: FAILED"; fail=1; fi
for p in ttfd:$rss_ttfd ttf:$rss_ttf; do
    name=${p%%:*}
    kb=${p#*:}
    if [ "$kb" -lt "$RSS_LIMIT_KB" ]; then verdict=OK; else verdict=MISSED; fail=1; fi
    printf '  peak RSS %-5s %6.1f MB (target < 64 MB): %s\n' "$name" "$(awk -v k="$kb" 'BEGIN {print k / 1024}')" "$verdict"
done
exit "$fail"
