#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's first command (via `make demo`): starts ttfd, the TodoMVC test app and ttf, prints
# the public URL and curl lines that work, and stops everything on Ctrl-C (or SIGTERM), exiting 0.
#
#   scripts/demo.sh            run until Ctrl-C
#   scripts/demo.sh --check    start, request through the tunnel (both routing modes, the page,
#                              a server-sent events stream), stop; exit 0/1
#
# Environment: TTFD_LISTEN (127.0.0.1:8080; port 0 = any free port; a port in use is refused
# before anything starts, as APP_PORT's), APP_PORT (3000; 0 = any free port too),
# TTFD_BIN / TTF_BIN (build/bin/ttfd, build/bin/ttf), PYTHON (/usr/bin/python3),
# DEMO_TIMEOUT (seconds to wait for each step, 20).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
TTFD_BIN=${TTFD_BIN:-$here/build/bin/ttfd}
TTF_BIN=${TTF_BIN:-$here/build/bin/ttf}
PYTHON=${PYTHON:-/usr/bin/python3}
TTFD_LISTEN=${TTFD_LISTEN:-127.0.0.1:8080}
APP_PORT=${APP_PORT:-3000}
DEMO_TIMEOUT=${DEMO_TIMEOUT:-20}
check=0
case ${1:-} in
    --check) check=1 ;;
    "") ;;
    -h | --help) sed -n '3,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--check]" >&2; exit 64 ;;
esac

# On a terminal, run in a process group of our own that owns it: Ctrl-C then reaches the demo
# alone (not `make`, which would report "Error 130"), and the demo stops and exits 0.
if [ -t 0 ] && [ -z "${TTF_DEMO_FOREGROUND:-}" ]; then
    export TTF_DEMO_FOREGROUND=1
    exec "$PYTHON" "$here/scripts/foreground.py" "$0" "$@"
fi

for b in "$TTFD_BIN" "$TTF_BIN"; do
    [ -x "$b" ] || { echo "demo: $b not found; run 'make build' (or 'make demo') first" >&2; exit 1; }
done
"$PYTHON" -c 'import fastapi, uvicorn' 2>/dev/null ||
    { echo "demo: $PYTHON lacks fastapi/uvicorn; run scripts/deps.sh" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null; }
if port_open "$APP_PORT"; then
    echo "demo: port $APP_PORT (for the test app) is already in use; set APP_PORT" >&2
    exit 1
fi
# ttfd's port (not 0: any free one), asked on the address it would listen on (a wildcard
# address: on loopback).
ttfd_port=${TTFD_LISTEN##*:}
ttfd_host=${TTFD_LISTEN%:*}
ttfd_host=${ttfd_host#[}
ttfd_host=${ttfd_host%]}
case $ttfd_host in 0.0.0.0 | "") ttfd_host=127.0.0.1 ;; :: | ::0) ttfd_host=::1 ;; esac
if [ "$ttfd_port" != 0 ] && port_open "$ttfd_port" "$ttfd_host"; then
    echo "demo: port $ttfd_port (for ttfd) is already in use (a ttfd started by hand?); stop it," \
        "or set TTFD_LISTEN=127.0.0.1:0 (any free port)" >&2
    exit 1
fi

logs=$(mktemp -d "${TMPDIR:-/tmp}/ttf-demo.XXXXXX")
pids=()   # started children, in start order
stopping=0

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    local rc=$?
    [ "$stopping" -eq 1 ] && return
    stopping=1
    trap '' INT TERM
    # Stop in reverse order (agent, app, server): SIGTERM, bounded wait, then SIGKILL.
    local i pid
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        pid=${pids[i]}
        kill -TERM "$pid" 2>/dev/null || continue
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "$rc" -ne 0 ]; then
        echo "demo: logs kept in $logs" >&2
    else
        rm -rf "$logs"
    fi
    exit "$rc"
}
trap cleanup EXIT
# Ctrl-C (or SIGTERM, or the terminal closing) is how the demo is meant to stop: exit 0.
trap 'echo; echo "demo: stopped"; exit 0' INT TERM HUP

fail() {
    echo "demo: $1" >&2
    local f
    for f in "$logs"/*.log; do
        [ -s "$f" ] && { echo "--- $(basename "$f") (last lines)" >&2; tail -n 15 "$f" >&2; }
    done
    exit 1
}

# wait_grep FILE REGEX WHAT PID: wait (deadline DEMO_TIMEOUT) until FILE has a line matching REGEX.
wait_grep() {
    local file=$1 rx=$2 what=$3 pid=$4 n=$((DEMO_TIMEOUT * 10))
    for _ in $(seq "$n"); do
        grep -qE "$rx" "$file" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || fail "$what: the process exited"
        sleep 0.1
    done
    fail "$what: no answer within ${DEMO_TIMEOUT}s"
}

# 1. The server.
# Its own state file (name owners), under the logs: never the default one a ttfd started by hand
# holds (ttfd locks it), and nothing of the demo's left behind.
"$TTFD_BIN" --listen "$TTFD_LISTEN" --state "$logs/ttfd-state.db" >"$logs/ttfd.out" \
    2>"$logs/ttfd.log" &
pids+=($!)
wait_grep "$logs/ttfd.out" '^Listening on ' "ttfd" "${pids[-1]}"
ttfd_line=$(grep -m1 '^Listening on ' "$logs/ttfd.out")
port=$(sed -E 's|^Listening on https?://[^ ]*:([0-9]+) .*|\1|' <<<"$ttfd_line")
echo "$ttfd_line"

# 2. The local app.
"$PYTHON" -m uvicorn main:app --app-dir "$here/testapp" --host 127.0.0.1 --port "$APP_PORT" \
    >"$logs/app.log" 2>&1 &
pids+=($!)
app_pid=${pids[-1]}
if [ "$APP_PORT" = 0 ]; then # any free port: the one uvicorn says it bound
    wait_grep "$logs/app.log" 'Uvicorn running on http://[^ ]*:[1-9][0-9]* ' "the test app" "$app_pid"
    APP_PORT=$(sed -nE 's|.*Uvicorn running on http://[^ ]*:([0-9]+) .*|\1|p' "$logs/app.log" | head -n1)
fi
for _ in $(seq $((DEMO_TIMEOUT * 10))); do
    port_open "$APP_PORT" && break
    kill -0 "$app_pid" 2>/dev/null || fail "the test app exited"
    sleep 0.1
done
port_open "$APP_PORT" || fail "the test app did not open port $APP_PORT within ${DEMO_TIMEOUT}s"
echo "Test app (TodoMVC API) on http://127.0.0.1:$APP_PORT"

# 3. The agent.
"$TTF_BIN" -e "ws://127.0.0.1:$port/_tunnel" -p "$APP_PORT" >"$logs/ttf.out" 2>"$logs/ttf.log" &
pids+=($!)
wait_grep "$logs/ttf.out" '^Tunnel established: ' "ttf" "${pids[-1]}"
url=$(grep -m1 '^Tunnel established: ' "$logs/ttf.out" | cut -d' ' -f3)
wait_grep "$logs/ttf.out" '^Path URL: ' "ttf" "${pids[-1]}"
path_url=$(grep -m1 '^Path URL: ' "$logs/ttf.out" | cut -d' ' -f3)

inspector=$(grep -m1 '^Inspector: ' "$logs/ttf.out" | cut -d' ' -f2 || true)

echo
echo "Tunnel established: $url"
[ -n "$inspector" ] && echo "Inspector (requests live, replay): $inspector"
echo "Try:  curl $url/todos"
echo "      curl $path_url/todos"
echo "      curl -X POST -H 'Content-Type: application/json' -d '{\"title\":\"hello\"}' $url/todos"
echo "      curl -N $url/events        # server-sent events: one per change to the todos"
echo "Open: $url/ui                    # the todos in a browser, live through the events"

if [ "$check" -eq 1 ]; then
    ok=1
    for u in "$url/" "$url/todos" "$path_url/todos?completed=true"; do
        # curl resolves *.localhost to the loopback address by itself.
        if out=$(curl -sS --max-time 10 -w ' [HTTP %{http_code}]' "$u"); then
            echo "$u -> $out"
            case $out in *'[HTTP 200]') ;; *) ok=0 ;; esac
        else
            echo "$u -> curl failed" >&2
            ok=0
        fi
    done
    # The page: served, and nothing in it comes from another site.
    if page=$(curl -sS --max-time 10 -w '\n[HTTP %{http_code} %{content_type}]' "$path_url/ui"); then
        status=$(tail -n1 <<<"$page")
        echo "$path_url/ui -> $status"
        case $status in '[HTTP 200 text/html'*) ;; *) ok=0 ;; esac
        if grep -Eio '(src|href|action)=["'"'"']?(https?:)?//[^"'"'"' >]*|@import[^;]*|url\((https?:)?//[^)]*' <<<"$page"; then
            echo "demo: the page loads something from another site (above)" >&2
            ok=0
        fi
    else
        ok=0
    fi
    # Server-sent events: the stream's first event arrives while it is open (the tunnel streams,
    # it does not wait for the end), and a change made through the other URL arrives on it.
    sse=$logs/sse.out
    curl -sS -N --max-time "$DEMO_TIMEOUT" "$url/events?max=1" >"$sse" 2>"$logs/sse.log" &
    sse_pid=$!
    pids+=("$sse_pid")
    wait_grep "$sse" '^event: hello' "the event stream ($url/events)" "$sse_pid"
    curl -sS --max-time 10 -o /dev/null -X POST -H 'Content-Type: application/json' \
        -d '{"title":"sent by demo --check"}' "$path_url/todos" || ok=0
    for _ in $(seq $((DEMO_TIMEOUT * 10))); do
        kill -0 "$sse_pid" 2>/dev/null || break
        sleep 0.1
    done
    if grep -q '^event: created' "$sse" && grep -q '"title": "sent by demo --check"' "$sse"; then
        echo "$url/events -> $(grep -c '^event: ' "$sse") events: hello, then created [SSE]"
    else
        echo "$url/events -> the created event did not arrive; got:" >&2
        cat "$sse" >&2
        ok=0
    fi
    [ "$ok" -eq 1 ] || fail "a request through the tunnel failed"
    echo "demo check: OK"
    exit 0
fi

# The log follower is started and recorded before the prompt: a Ctrl-C right after the prompt
# must find it in pids (an asynchronous command ignores SIGINT, so the trap has to stop it).
tail -n 0 -F "$logs/ttfd.log" 2>/dev/null &
pids=("${pids[@]:0:1}" "$!" "${pids[@]:1}")   # stop the log follower just before ttfd
echo
echo "Requests are logged below. Press Ctrl-C to stop."
# Wait until a child exits (then report it) or a signal arrives (the trap stops everything).
set +e
wait -n "${pids[@]}"
set -e
fail "a process of the demo exited unexpectedly"
