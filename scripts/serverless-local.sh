#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Try the serverless back-end locally (`make serverless-local`): the AWS stand-in (tests/aws/standin:
# DynamoDB, API Gateway WebSocket + HTTP APIs, the Lambda service around the real bootstrap) and
# ttf in front of a local service, all on 127.0.0.1. Prints the public URL and a curl line; stops
# everything on Ctrl-C (or SIGTERM). Nothing reaches AWS.
#
#   scripts/serverless-local.sh            run until Ctrl-C
#   scripts/serverless-local.sh --check    start, one request through the stack, stop; exit 0/1
#
# Environment: APP_PORT (the local service to expose, 3000; with --check a small built-in one),
# BOOTSTRAP_BIN / TTF_BIN (build/bin/...), NODE (node), STANDIN_ARGS (extra stand-in options,
# e.g. "--ws-concurrency 10 --http-concurrency 10"), TIMEOUT (seconds per step, 20).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
BOOTSTRAP_BIN=${BOOTSTRAP_BIN:-$here/build/bin/bootstrap}
TTF_BIN=${TTF_BIN:-$here/build/bin/ttf}
NODE=${NODE:-node}
APP_PORT=${APP_PORT:-3000}
TIMEOUT=${TIMEOUT:-20}
check=0
case ${1:-} in
    --check) check=1 ;;
    "") ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--check]" >&2; exit 64 ;;
esac
for b in "$BOOTSTRAP_BIN" "$TTF_BIN"; do
    [ -x "$b" ] || { echo "serverless-local: $b not found; run 'make build' first" >&2; exit 1; }
done
[ -d "$here/tests/aws/node_modules/dynalite" ] ||
    { echo "serverless-local: the stand-in's npm packages are missing; run scripts/deps.sh" >&2; exit 1; }

logs=$(mktemp -d "${TMPDIR:-/tmp}/ttf-serverless.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ $check = 1 ]; then # a small local service of our own, on a free port
    /usr/bin/python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = b"hello from the local service\n"
        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H); print(s.server_address[1], flush=True); s.serve_forever()' \
        >"$logs/app.port" 2>"$logs/app.log" &
    pids+=($!)
    for _ in $(seq $((TIMEOUT * 10))); do [ -s "$logs/app.port" ] && break; sleep 0.1; done
    APP_PORT=$(head -1 "$logs/app.port")
fi

mkfifo "$logs/standin.out"
# shellcheck disable=SC2086 # STANDIN_ARGS is a list of options
"$NODE" "$here/tests/aws/standin/main.js" --bootstrap "$BOOTSTRAP_BIN" --lambda-log "$logs/lambda.log" \
    --env 'DOMAIN_NAME=localhost:{HTTP_PORT}' --env PUBLIC_URL_SCHEME=http ${STANDIN_ARGS:-} \
    >"$logs/standin.out" 2>"$logs/standin.log" &
pids+=($!)
exec 3<"$logs/standin.out"
if ! read -r -t "$TIMEOUT" ready <&3; then
    echo "serverless-local: the stand-in did not start; see $logs/standin.log" >&2
    exit 1
fi
field() { sed -E "s/.*\"$1\":\"?([^\",}]*).*/\1/" <<<"$ready"; }
ws_url=$(field websocket_url)
http_port=$(field http_port)

: >"$logs/ttf.out" # exists before the loop below reads it (the background shell opens it later)
"$TTF_BIN" -e "$ws_url" -p "$APP_PORT" --host 127.0.0.1 >"$logs/ttf.out" 2>"$logs/ttf.log" &
pids+=($!)
url=""
for _ in $(seq $((TIMEOUT * 10))); do
    url=$(sed -n 's/^Tunnel established: //p' "$logs/ttf.out" | head -1)
    [ -n "$url" ] && break
    sleep 0.1
done
[ -n "$url" ] || { echo "serverless-local: ttf got no tunnel; see $logs/ttf.log, $logs/lambda.log" >&2; exit 1; }
tid=$(sed -E 's#^https?://([a-z0-9]+)\..*#\1#' <<<"$url")

if [ $check = 1 ]; then
    body=$(curl -sS --max-time "$TIMEOUT" "http://127.0.0.1:$http_port/$tid/")
    [ "$body" = "hello from the local service" ] && { echo "serverless-local: ok ($url)"; exit 0; }
    echo "serverless-local: unexpected answer: $body" >&2
    exit 1
fi
cat <<EOF
Serverless stack on the AWS stand-in (logs in $logs):
  WebSocket API   $ws_url
  HTTP API        http://127.0.0.1:$http_port
  tunnel          $url  ->  127.0.0.1:$APP_PORT

  curl http://$tid.localhost:$http_port/          (subdomain routing)
  curl http://127.0.0.1:$http_port/$tid/          (path routing)

Ctrl-C stops everything.
EOF
wait "${pids[-1]}"
