# SPDX-License-Identifier: MIT
"""Helpers for the serverless end-to-end suite: the Node stand-in, the local app, the `ttf` agent,
and byte-exact public HTTP requests through the stand-in's HTTP API.

Owns: every process it starts (stand-in, ttf) and the local app's server thread; each is stopped
by its owner's stop() (fixtures call it), with deadlines on every wait. Loopback only. What the
end-to-end suites share (process handling, deadlines scaled for slow builds, config files) comes
from tests/e2e/tunnelkit.py: wait_for, write_config, SLOW, SANITIZED, MB, TTF_BIN are its own, and
the local app reads request bodies with tests/e2e/localsrv.py's body_pieces.
"""

import ctypes
import gzip
import hashlib
import http.client
import json
import os
import queue
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
# appended, not prepended: this suite's own modules (conftest, awskit) keep their names
sys.path.append(os.path.join(REPO, "tests", "e2e"))
import localsrv  # noqa: E402
import tunnelkit as tk  # noqa: E402

NODE = os.environ.get("NODE_BIN") or shutil.which("node") or "/usr/bin/node"
STANDIN_MAIN = os.path.join(HERE, "standin", "main.js")
TTF_BIN = tk.TTF_BIN
BOOTSTRAP_BIN = os.environ.get("BOOTSTRAP_BIN", os.path.join(REPO, "build", "bin", "bootstrap"))
LAMBDA_ZIP = os.environ.get("LAMBDA_ZIP", os.path.join(REPO, "build", "lambda", "bootstrap.zip"))
DOMAIN = "tunnel.test"
SANITIZED = tk.SANITIZED
# Sanitized builds are ~2x slower: the stack's time limits (Lambda wait, function timeout, HTTP API
# integration timeout) are scaled by this factor; tests that are about a timeout set their own.
SLOW = tk.SLOW
# The big-body case: 4 MiB (the limit) each way; 1 MiB in sanitized builds, where ~100 sanitized
# Lambda processes cannot move 256 pieces of 16 KiB within the 28 s the Lambda may wait (the plain
# build, run first by `make test`, carries the 4 MiB case).
BIG = int(os.environ.get("AWS_E2E_BIG_BYTES", str((1 if SANITIZED else 4) * 1024 * 1024)))
MB = tk.MB
wait_for = tk.wait_for
write_config = tk.write_config
TUNNEL_RE = re.compile(r"Tunnel established: (\S+)")
ID_RE = re.compile(r"^https?://([a-z0-9]{12})\.")


def _die_with_parent():
    """preexec_fn: the child gets SIGTERM if the test process dies (no orphaned agents)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def pattern(n, seed=1):
    """n deterministic pseudo-random bytes (every byte value occurs)."""
    return random.Random(seed).randbytes(n)


def sha(b):
    return hashlib.sha256(b).hexdigest()


# ---------------------------------------------------------------------------------- stand-in


class Standin:
    """One Node stand-in process around `lambda_cmd` (default: the bootstrap binary)."""

    def __init__(self, tmpdir, env=None, args=None, lambda_cmd=None):
        self.tmpdir = str(tmpdir)
        os.makedirs(self.tmpdir, exist_ok=True)
        self.lambda_log = os.path.join(self.tmpdir, "lambda.log")
        self.stderr_path = os.path.join(self.tmpdir, "standin.stderr")
        env = dict(env or {})
        env.setdefault("DOMAIN_NAME", DOMAIN + ":{HTTP_PORT}")
        env.setdefault("PUBLIC_URL_SCHEME", "http")
        args = list(args or [])
        if SLOW != 1:
            # the Lambda accepts at most 28 s (under API Gateway's 29 s), so that one only stretches a bit
            env.setdefault("REQUEST_TIMEOUT_SECS", str(min(28, int(25 * SLOW))))
            if "--function-timeout-ms" not in args:
                args += ["--function-timeout-ms", str(int(30000 * SLOW))]
            if "--integration-timeout-ms" not in args:
                args += ["--integration-timeout-ms", str(int(29000 * SLOW))]
        # strict: a call with a wrong signature gets AWS's 403 (AWS_STANDIN_SIGV4=record only counts it)
        # a larger young generation: every large transfer churns megabytes of short-lived strings
        # (events, DynamoDB items); V8's default 16 MB semi-space collects them over and over.
        # A larger initial old generation: the 128 KB strings of a transfer are large objects,
        # collected by full mark-compacts (with helper threads) that a small heap limit runs often
        cmd = [NODE, "--max-semi-space-size=32", "--initial-heap-size=256", STANDIN_MAIN, "--watch-stdin", "--lambda-log", self.lambda_log,
               "--sigv4", os.environ.get("AWS_STANDIN_SIGV4", "strict")]
        # every AWS action the Lambda is served, for the IAM check in tests/infra (one file per stand-in)
        actions_dir = os.environ.get("AWS_STANDIN_ACTIONS_DIR")
        if actions_dir:
            os.makedirs(actions_dir, exist_ok=True)
            fd, actions_log = tempfile.mkstemp(prefix="actions-", suffix=".jsonl", dir=actions_dir)
            os.close(fd)
            cmd += ["--actions-log", actions_log]
        if lambda_cmd:
            cmd += ["--lambda-cmd", json.dumps(lambda_cmd)]
        else:
            cmd += ["--bootstrap", BOOTSTRAP_BIN]
        for k, v in env.items():
            cmd += ["--env", "%s=%s" % (k, v)]
        cmd += args
        self.stderr_file = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr_file, cwd=HERE, preexec_fn=_die_with_parent)
        self.info = self._read_ready(60)  # a deadline: node + dynalite start slowly on a loaded machine
        self.http_port = self.info["http_port"]
        self.ws_url = self.info["websocket_url"]
        self.control = "http://127.0.0.1:%d" % self.info["control_port"]
        self.final_stats = None

    def _read_ready(self, timeout):
        end = time.monotonic() + timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        while b"\n" not in buf:
            left = end - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.stop()
                raise AssertionError("stand-in not ready: %s" % self.stderr_text()[-2000:])
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    continue
                buf += chunk
        return json.loads(buf.split(b"\n", 1)[0])

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def lambda_log_text(self):
        try:
            with open(self.lambda_log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _control(self, method, path):
        req = urllib.request.Request(self.control + path, method=method, data=b"" if method == "POST" else None)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def stats(self):
        return self._control("GET", "/stats")[1]

    def connections(self):
        return self._control("GET", "/connections")[1]

    def drop(self, connection_id, mode="close", silent=False):
        path = "/connections/%s/drop?mode=%s%s" % (urllib.request.quote(connection_id, safe=""), mode,
                                                    "&silent=1" if silent else "")
        return self._control("POST", path)[0] == 200

    def _control_json(self, path, doc):
        req = urllib.request.Request(self.control + path, method="POST", data=json.dumps(doc).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def crash_busy(self, function="http"):
        """Every environment of `function` running an invocation dies (SIGKILL): how many."""
        status, doc = self._control("POST", "/lambda/%s/crash" % function)
        assert status == 200, doc
        return doc["crashed"]

    def invoke(self, event):
        """Invokes the Lambda with any event: {"ok": true, "body": text} or {"ok": false, "errorType", ...}."""
        status, doc = self._control_json("/invoke", event)
        assert status == 200, doc
        return doc

    def dynamodb(self, op, payload):
        """A DynamoDB call made by the stand-in itself (signed, kept out of the Lambda's figures)."""
        status, doc = self._control_json("/dynamodb/" + op, payload)
        assert status == 200, doc
        return doc

    def scan_all(self, table):
        items, start = [], None
        while True:
            payload = {"TableName": table, "ConsistentRead": True}
            if start:
                payload["ExclusiveStartKey"] = start
            page = self.dynamodb("Scan", payload)
            items += page.get("Items", [])
            start = page.get("LastEvaluatedKey")
            if not start:
                return items

    def posted(self):
        return self._control("GET", "/posted")[1]

    def reset_latency(self):
        return self._control("POST", "/latency/reset")[1]

    def sigv4_recent(self):
        return self._control("GET", "/sigv4/recent")[1]

    def stop(self):
        """SIGTERM, wait (deadline), SIGKILL as a last resort. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        self.stderr_file.close()
        for line in self.stderr_text().splitlines():
            if line.startswith("STANDIN-STATS "):
                self.final_stats = json.loads(line[len("STANDIN-STATS "):])
        # a sanitized bootstrap reports on its stderr, which the stand-in wrote to the Lambda log
        reports = [l for l in self.lambda_log_text().splitlines()
                   if re.search(r"ERROR: (Address|Leak)Sanitizer|runtime error:", l)]
        assert not reports, "sanitizer reports in the Lambda output:\n" + "\n".join(reports[:20])
        return self.proc.returncode


# ---------------------------------------------------------------------------------- local app


HTML_PAGE = b'<html><head><title>t</title></head><body><a href="/next">n</a><img src="/i.png"></body></html>'


class AppHandler(BaseHTTPRequestHandler):
    """Routes (any method):
    /upload            reads the body, answers {"len","sha256"}
    /raw-echo          the body back byte for byte (application/octet-stream)
    /cookies           three Set-Cookie lines and two X-Multi lines, byte for byte
    /download?n=N      N bytes of pattern(N)
    /html[?gzip=1]     an HTML page with root-relative links (gzip-encoded if asked); Location header
    /hang              never answers (until the app stops)
    /sink              never reads its request body nor answers (until the app stops)
    /slow?ms=M         the JSON echo after M ms
    /status/NNN        that status, a short body
    /obs-text          header values that are not UTF-8 (obs-text octets), written raw
    /url-fields        a 302 with Location, Content-Location and Refresh: 0; url=/next
    /te-gzip           a body in `Transfer-Encoding: gzip, chunked` (a coding the tunnel refuses)
    /obs-header        Content-Disposition with an ISO-8859-1 octet (0xE9), X-Utf8 in UTF-8
    /many-cookies?n=N  N Set-Cookie lines of 1 KB each (a large response head)
    /reject            403 at once, without reading the request body (then the connection closes)
    anything else      JSON echo: method, raw target, header lines, body sha/len (+ base64 if small)
    """

    protocol_version = "HTTP/1.1"
    server_version = "aws-e2e-app"

    def log_message(self, fmt, *args):
        pass

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.dispatch
        raise AttributeError(name)

    def read_body(self):
        """The request body (the e2e local service's reader); a body cut short (the agent
        cancelled the upload) is what came of it."""
        out = []
        try:
            for piece in localsrv.body_pieces(self):
                out.append(piece)
        except EOFError:
            pass
        return b"".join(out)

    def answer(self, status, body, headers=()):
        self.send_response_only(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def dispatch(self):
        app = self.server.app
        if urlsplit(self.path).path == "/reject":  # answers before reading the body, then closes
            self.close_connection = True
            return self.answer(403, b"rejected", [("Connection", "close")])
        if urlsplit(self.path).path == "/sink":
            self.close_connection = True
            app.sink_entered.set()
            app.stop.wait(60)
            return None
        body = self.read_body()
        with app.lock:
            app.requests.append((self.command, self.path, self.headers.items(), len(body)))
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        p = url.path
        if p == "/upload":
            return self.answer(200, json.dumps({"len": len(body), "sha256": sha(body)}).encode(),
                               [("Content-Type", "application/json")])
        if p == "/raw-echo":
            return self.answer(200, body, [("Content-Type", "application/octet-stream")])
        if p == "/cookies":
            return self.answer(200, b"cookies", [("Content-Type", "text/plain")] +
                               [("Set-Cookie", c) for c in app.COOKIES] + [("X-Multi", "1"), ("X-Multi", "2")])
        if p == "/download":
            n = int(q.get("n", ["0"])[0])
            return self.answer(200, pattern(n), [("Content-Type", "application/octet-stream")])
        if p == "/html":
            page = HTML_PAGE
            headers = [("Content-Type", "text/html; charset=utf-8"), ("Location", "/login")]
            if "gzip" in q:
                page = gzip.compress(page, mtime=0)
                headers.append(("Content-Encoding", "gzip"))
            return self.answer(302 if "redirect" in q else 200, page, headers)
        if p == "/hang":
            app.hang_entered.set()
            app.stop.wait(60)
            return None
        if p == "/slow":
            time.sleep(int(q.get("ms", ["100"])[0]) / 1000.0)
        if p == "/obs-text":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Disposition: attachment; filename=\"caf\xe9.txt\""
                             b"\r\nSet-Cookie: name=J\xf6rg; Path=/\r\nSet-Cookie: b=2\r\nX-A: 1\r\n"
                             b"X-A: \xff\r\nContent-Length: 2\r\n\r\nok")
            return None
        if p == "/url-fields":
            self.wfile.write(b"HTTP/1.1 302 Found\r\nLocation: /login\r\nContent-Location: /doc.json\r\n"
                             b"Refresh: 0; url=/next\r\nContent-Length: 0\r\n\r\n")
            return None
        if p == "/lf-only":  # a head with bare LF line ends (RFC 9112 §2.2 lets ttf read it)
            self.wfile.write(b"HTTP/1.1 201 Made\nContent-Type: text/plain\nSet-Cookie: a=1\n"
                             b"Set-Cookie: b=2\nContent-Length: 2\n\nok")
            return None
        if p == "/te-gzip":
            z = gzip.compress(b"hello", mtime=0)
            self.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
                             % (len(z), z))
            return None
        if p == "/obs-header":
            # send_header encodes latin-1: 0xE9 goes out as one octet; the UTF-8 one as two
            return self.answer(200, b"ok", [("Content-Disposition", 'attachment; filename="caf\xe9.txt"'),
                                            ("X-Utf8", b"J\xc3\xb6rg".decode("latin-1"))])
        if p == "/many-cookies":
            n = int(q.get("n", ["20"])[0])
            return self.answer(200, b"cookies", [("Set-Cookie", "c%02d=%s" % (i, chr(65 + i % 26) * 1020))
                                                 for i in range(n)])
        m = re.match(r"^/status/(\d{3})$", p)
        if m:
            return self.answer(int(m.group(1)), b"status " + m.group(1).encode(), [("Content-Type", "text/plain")])
        echo = {"method": self.command, "target": self.path, "headers": [[k, v] for k, v in self.headers.items()],
                "len": len(body), "sha256": sha(body)}
        if len(body) <= 65536:
            echo["body_hex"] = body.hex()
        return self.answer(200, json.dumps(echo).encode(), [("Content-Type", "application/json")])


class LocalApp:
    COOKIES = ["a=1; Path=/; HttpOnly", "b=two words; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Secure",
               "c=3,4; SameSite=Lax"]

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.stop = threading.Event()
        self.hang_entered = threading.Event()
        self.sink_entered = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), AppHandler)
        self.server.daemon_threads = True
        self.server.app = self
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def close(self):
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


# ---------------------------------------------------------------------------------- ttf


class Agent:
    """A `ttf` process: tunnelkit.Proc (its stdout/stderr lines in .out/.err, a private XDG state
    directory unless state_home is given, the inspector on a free port, the runner's
    TUNNEL_* variables kept out), stopped with the test process at the latest."""

    def __init__(self, endpoint, local_port, token=None, extra=(), state_home=None):
        """local_port None: no local service on the command line (`extra` names a --config).
        state_home: ttf's XDG state directory (its last id), to restart "the same" agent."""
        cmd = [TTF_BIN, "-e", endpoint] + list(extra)
        if local_port is not None:
            cmd[3:3] = ["-p", str(local_port), "--host", "127.0.0.1"]
        if token:
            cmd += ["-t", token]
        env = {"XDG_STATE_HOME": str(state_home)} if state_home else None
        self.p = tk.Proc("ttf", cmd, env=env, valgrind=False, preexec_fn=_die_with_parent)
        self.proc = self.p.p
        self.out, self.err = self.p.out_lines, self.p.err_lines
        self._next_line = 0  # stdout lines before it were read by wait_established

    def wait_established(self, timeout=20):
        """The public URL of the next "Tunnel established" line."""
        m, i = self.p.wait_line(TUNNEL_RE.pattern, timeout, start=self._next_line)
        self._next_line = i + 1
        return m.group(1)

    def stderr(self):
        return "\n".join(self.err[-60:])

    def wait_exit(self, timeout):
        """The exit code, once the process ended and its output has been read to the end."""
        code = self.p.wait_exit(timeout)
        if code is None:
            raise AssertionError("ttf still running after %ss; stderr:\n%s" % (timeout * SLOW, self.stderr()))
        return code

    def kill(self):
        self.p.kill()

    def stop(self):
        """SIGTERM (ttf exits 0), SIGKILL as a last resort (then None). Returns the exit code."""
        return self.p.stop()


class WsClient:
    """A scripted WebSocket client (standin/ws_client.js): a stand-in for a rogue or upstream agent."""

    def __init__(self, url, protocols="ttf.bin.v1,ttf.json.v1"):
        self.proc = subprocess.Popen([NODE, os.path.join(HERE, "standin", "ws_client.js"), url, protocols],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     preexec_fn=_die_with_parent)
        self.lines = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        first = self.expect(lambda m: m.get("_event") in ("open", "refused", "error"), 20)
        self.protocol = first.get("protocol")
        self.opened = first.get("_event") == "open"
        self.status = first.get("status")

    def _read(self):
        for raw in iter(self.proc.stdout.readline, b""):
            try:
                self.lines.put(json.loads(raw))
            except ValueError:
                self.lines.put({"_raw": raw.decode("utf-8", "replace")})

    def send(self, obj):
        self.proc.stdin.write((json.dumps(obj) if not isinstance(obj, str) else obj).encode() + b"\n")
        self.proc.stdin.flush()

    def expect(self, pred, timeout=10, scale=True):
        if scale:
            timeout *= SLOW
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("no matching message within %ss" % timeout)
            try:
                m = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if pred(m):
                return m

    def none_within(self, pred, seconds):
        """True when no matching message arrives within `seconds`."""
        try:
            self.expect(pred, seconds, scale=False)
            return False
        except AssertionError:
            return True

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.thread.join(5)


def tunnel_id(public_url):
    m = ID_RE.match(public_url)
    assert m, "unexpected public URL %r" % public_url
    return m.group(1)


# ---------------------------------------------------------------------------------- public side


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # list of (name, value) in order
        self.body = body

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def get(self, name):
        vals = self.all(name)
        return vals[0] if vals else None

    def json(self):
        return json.loads(self.body)


def public(port, method, target, host, headers=(), body=None, timeout=40, chunks=None):
    """One request to the HTTP API on 127.0.0.1:port with the given Host, byte-exact target.
    chunks: a list of byte strings sent with Transfer-Encoding: chunked instead of `body`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout * SLOW)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host)
        for k, v in headers:
            conn.putheader(k, v)
        if chunks is not None:
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for c in chunks:
                conn.send(b"%x\r\n%s\r\n" % (len(c), c))
            conn.send(b"0\r\n\r\n")
        else:
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
        r = conn.getresponse()
        data = r.read()
        return Reply(r.status, list(r.getheaders()), data)
    finally:
        conn.close()


class Tunnel:
    """Public access to one tunnel through the HTTP API, by subdomain or by path."""

    def __init__(self, standin, tid):
        self.port = standin.http_port
        self.tid = tid

    def sub(self, method, target, headers=(), body=None, timeout=40, chunks=None):
        host = "%s.%s:%d" % (self.tid, DOMAIN, self.port)
        return public(self.port, method, target, host, headers, body, timeout, chunks)

    def path(self, method, target, headers=(), body=None, timeout=40):
        host = "%s:%d" % (DOMAIN, self.port)
        return public(self.port, method, "/" + self.tid + target, host, headers, body, timeout)
