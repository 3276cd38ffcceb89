#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the libFuzzer targets (fuzz/fuzz_*.c) for a bounded time each, with their seed corpus and
# dictionary, and prints per target what was reached: edges and features from libFuzzer's final
# stats, and with --coverage the source lines the run's corpus covers (clang source-based
# coverage: -fprofile-instr-generate, llvm-profdata, llvm-cov report).
#
#   scripts/fuzz.sh [-t SECONDS] [--coverage] [--build-only] [TARGET...]   (default: every target, 45 s)
#
# Builds build-fuzz/ (clang, -DTUNNEL_FUZZ=ON) and, with --coverage, build-fuzzcov/
# (-DTUNNEL_COVERAGE=ON, replay programs only). Each run starts from the committed seeds
# (fuzz/corpus/<target>, read only) and writes what it finds to build-fuzz/run/<target>/corpus;
# findings (crash-*, leak-*, timeout-*) go to build-fuzz/run/<target>/ and fail the script.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=45
coverage=0
build_only=0
targets=()
while [ $# -gt 0 ]; do
    case $1 in
    -t) secs=$2; shift 2 ;;
    --coverage) coverage=1; shift ;;
    --build-only) build_only=1; shift ;;
    -h | --help) sed -n '3,14p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
    esac
done
if [ ${#targets[@]} -eq 0 ]; then
    for f in fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c)"); done
fi
jobs=$(nproc)

cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DTUNNEL_FUZZ=ON >/dev/null
cmake --build build-fuzz -j "$jobs" --target "${targets[@]}"
if [ "$coverage" = 1 ]; then
    cmake -S . -B build-fuzzcov -DCMAKE_C_COMPILER=clang -DTUNNEL_COVERAGE=ON >/dev/null
    cmake --build build-fuzzcov -j "$jobs" --target "${targets[@]/%/_replay}"
fi
[ "$build_only" = 1 ] && exit 0

# UB is a finding too; leaks are checked by ASan's LeakSanitizer at each input's end.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
failed=()
report=()
for t in "${targets[@]}"; do
    run=build-fuzz/run/$t
    rm -rf "$run"
    mkdir -p "$run/corpus"
    dict=()
    [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
    echo "== $t: ${secs} s (seeds fuzz/corpus/$t${dict:+, dictionary fuzz/$t.dict})"
    rc=0
    build-fuzz/fuzz/"$t" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 "${dict[@]}" -artifact_prefix="$run/" \
        "$run/corpus" "fuzz/corpus/$t" >"$run/log" 2>&1 || rc=$?
    # The last status line: "#N DONE cov: E ft: F corp: C/S lim: L exec/s: X rss: R"
    last=$(grep -E '^#[0-9]+' "$run/log" | tail -1 || true)
    edges=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    feats=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<<"$last")
    execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
    lines="-"
    if [ "$coverage" = 1 ]; then
        rm -f "$run"/*.profraw
        LLVM_PROFILE_FILE="$run/cov-%p.profraw" build-fuzzcov/fuzz/"${t}_replay" \
            "fuzz/corpus/$t" "$run/corpus" >/dev/null 2>&1 || true
        llvm-profdata merge -sparse "$run"/*.profraw -o "$run/cov.profdata"
        # Lines of the product code the target's binary holds (not the harness, not tests).
        llvm-cov report build-fuzzcov/fuzz/"${t}_replay" -instr-profile="$run/cov.profdata" \
            -ignore-filename-regex='(^|/)(fuzz|tests)/' >"$run/coverage.txt"
        # columns: ... Lines, Missed Lines, Cover, Branches, Missed Branches, Cover
        lines=$(awk '/^(Filename|---|TOTAL)/ || NF < 13 {next}
                     {l = $(NF-5); c = l - $(NF-4); if (c > 0) {n++; tl += l; tc += c}}
                     END {if (tl) printf "%d/%d (%.1f%%) in %d files reached", tc, tl, 100 * tc / tl, n}' \
            "$run/coverage.txt")
    fi
    if [ "$rc" != 0 ]; then
        failed+=("$t")
        echo "   FAILED (exit $rc): see $run/log and $run/crash-* / leak-* / timeout-*"
    fi
    report+=("$(printf '%-22s %7s %9s %16s %11s  %s' "$t" "${edges:-?}" "${feats:-?}" "${corp:-?}" "${execs:-?}" "$lines")")
done

echo
printf '%-22s %7s %9s %16s %11s  %s\n' target edges features corpus execs "lines covered (llvm-cov)"
printf '%s\n' "${report[@]}"
[ "$coverage" = 1 ] && echo "(per-file line coverage: build-fuzz/run/<target>/coverage.txt)"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: findings in ${failed[*]}" >&2
    exit 1
fi
