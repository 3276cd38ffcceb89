# SPDX-License-Identifier: MIT
"""The local service the tests put behind the tunnel: a threaded HTTP/1.1 server (stdlib only).

Owns: one server per LocalServer on 127.0.0.1:0, its handler threads, and the shared state the
tests use to synchronise with it (events set when a slow request arrives, the SSE hand-shake,
counters). Routes (any method):
  /raw-echo            the request body back, byte for byte (application/octet-stream)
  /cookies             several Set-Cookie lines, written byte for byte
  /hop                 a response with hop-by-hop headers that must not reach the client
  /download?n=N[&mode=length|chunked|close]   N bytes of the test pattern
  /upload[?pause=S]    reads the body (streamed; after S seconds), answers {"len":..,"sha256":..}
  /sse[?mode=chunked|close]  three events; waits for the test to see the first before the rest
  /ws                  WebSocket echo (RFC 6455)
  /sleep?s=S           answers after S seconds (sets state.sleep_entered first)
  /hang                never answers (sets state.hang_entered; ends when the server stops)
  /slow?ms=M           the JSON echo after M milliseconds
  /status/NNN          an empty answer with that status
  /counter             {"n": <requests to /counter so far>, "body": <the request body as text>}
  anything else        JSON echo: method, raw target, header lines in order, body (base64), the
                       server's own port (local_port)
"""

import base64
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import tunnelkit as tk


def _pieces(rfile, left):
    """left octets of rfile in pieces of at most 64 KiB; EOFError when they are not all there."""
    while left:
        piece = rfile.read(min(left, 65536))
        if not piece:
            raise EOFError("body cut short")
        left -= len(piece)
        yield piece


def body_pieces(handler):
    """Yield the request body a BaseHTTPRequestHandler is reading (Content-Length or chunked, its
    trailers skipped) in pieces of at most 64 KiB; EOFError when the body is cut short. The
    local services of every suite read their requests with it (here, tests/aws/awskit.py)."""
    rfile = handler.rfile
    te = (handler.headers.get("Transfer-Encoding") or "").lower()
    if "chunked" not in te:
        yield from _pieces(rfile, int(handler.headers.get("Content-Length") or 0))
        return
    while True:
        size = int(rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                pass
            return
        yield from _pieces(rfile, size)
        rfile.readline(8)


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.connections = 0
        self.requests = 0
        self.stop = threading.Event()
        self.sleep_entered = threading.Event()
        self.hang_entered = threading.Event()
        self.sse_ack = threading.Event()  # set by the test once it saw the first event
        self.sse_results = []  # per SSE stream: True when the ack came while the stream was open
        self.last_upload = None
        self.counter = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "e2e-local"

    def log_message(self, fmt, *args):  # quiet
        pass

    def setup(self):
        super().setup()
        with self.server.state.lock:
            self.server.state.connections += 1

    def __getattr__(self, name):
        # Any method token is dispatched to the same handler (PROPFIND, MKCOL, ...).
        if name.startswith("do_"):
            return self.dispatch
        raise AttributeError(name)

    # ------------------------------------------------------------ body reading

    def body_pieces(self):
        return body_pieces(self)

    def read_body(self):
        return b"".join(self.body_pieces())

    # ------------------------------------------------------------ answering

    def send_simple(self, status, body, ctype="application/octet-stream", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for n, v in extra:
            self.send_header(n, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def write_raw(self, data):
        self.wfile.write(data)
        self.wfile.flush()

    def dispatch(self):
        st = self.server.state
        with st.lock:
            st.requests += 1
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        path = url.path
        route = getattr(self, "route_" + path.strip("/").split("/")[0].replace("-", "_"), None)
        if route is not None and path.startswith("/") and not path.startswith("//"):
            return route(q)
        return self.route_echo(q)

    def route_echo(self, q):
        body = self.read_body()
        doc = {
            "method": self.command,
            "target": self.path,
            "version": self.request_version,
            "headers": [[n, v] for n, v in self.headers.items()],
            "body_b64": base64.b64encode(body).decode(),
            "body_len": len(body),
            "client": self.client_address[0],
            "local_port": self.server.server_address[1],
        }
        out = json.dumps(doc).encode()
        self.send_simple(200, out, "application/json", [("X-Echo-Method", self.command),
                                                         ("X-Echo-Target", self.path)])

    def route_counter(self, q):
        body = self.read_body()
        with self.server.state.lock:
            self.server.state.counter += 1
            n = self.server.state.counter
        out = json.dumps({"n": n, "body": body.decode("utf-8", "replace")}).encode()
        self.send_simple(200, out, "application/json")

    def route_slow(self, q):
        time.sleep(int(q.get("ms", ["50"])[0]) / 1000.0)
        return self.route_echo(q)

    def route_raw_echo(self, q):
        body = self.read_body()
        self.send_simple(200, body, "application/octet-stream",
                         [("X-Body-Sha256", hashlib.sha256(body).hexdigest())])

    def route_status(self, q):
        self.read_body()
        code = int(self.path.split("/")[2].split("?")[0])
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def route_cookies(self, q):
        self.read_body()
        self.close_connection = False
        self.write_raw(COOKIES_RESPONSE)

    def route_hop(self, q):
        self.read_body()
        self.write_raw(HOP_RESPONSE)

    def route_download(self, q):
        self.read_body()
        n = int(q.get("n", ["0"])[0])
        mode = q.get("mode", ["length"])[0]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if mode == "length":
            self.send_header("Content-Length", str(n))
        elif mode == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command == "HEAD":
            return
        for piece in tk.pattern_chunks(n, 256 * 1024):
            if mode == "chunked":
                self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
            else:
                self.wfile.write(piece)
        if mode == "chunked":
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def route_upload(self, q):
        # ?pause=S: wait before reading the body (a slow consumer: the sender must be held back).
        time.sleep(float(q.get("pause", ["0"])[0]))
        h = hashlib.sha256()
        n = 0
        for piece in self.body_pieces():
            h.update(piece)
            n += len(piece)
        self.server.state.last_upload = (n, h.hexdigest())
        self.send_simple(200, json.dumps({"len": n, "sha256": h.hexdigest()}).encode(),
                         "application/json")

    def route_sse(self, q):
        st = self.server.state
        self.read_body()
        mode = q.get("mode", ["chunked"])[0]
        head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        head += "Transfer-Encoding: chunked\r\n\r\n" if mode == "chunked" else "Connection: close\r\n\r\n"
        self.write_raw(head.encode())

        def event(data):
            ev = ("id: %d\nevent: tick\ndata: %s\n\n" % (len(data), data)).encode()
            self.write_raw(b"%x\r\n%s\r\n" % (len(ev), ev) if mode == "chunked" else ev)

        event("first")
        # The rest only comes once the client saw the first event (or after a long wait,
        # which makes the test fail): proof that events are not held until the end.
        acked = st.sse_ack.wait(30 * tk.SLOW)
        st.sse_results.append(acked)
        event("second")
        event("third")
        if mode == "chunked":
            self.write_raw(b"0\r\n\r\n")
        else:
            self.close_connection = True

    def route_ws(self, q):
        if (self.headers.get("Upgrade") or "").lower() != "websocket":
            return self.send_simple(400, b"not a websocket upgrade\n", "text/plain")
        key = self.headers.get("Sec-WebSocket-Key", "")
        self.write_raw(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n"
                        % tk.ws_accept(key)).encode())
        self.close_connection = True

        def read_exact(n):
            data = self.rfile.read(n)
            if len(data) != n:
                raise EOFError("websocket closed")
            return data

        try:
            while True:
                fin, op, masked, payload = tk.ws_read_frame(read_exact)
                if not masked:
                    # RFC 6455: client frames must be masked. Report it in-band.
                    self.write_raw(tk.ws_frame(1, b"ERROR: unmasked client frame", False))
                if op == 8:
                    self.write_raw(tk.ws_frame(8, payload[:2], False))
                    return
                if op == 9:
                    self.write_raw(tk.ws_frame(10, payload, False))
                    continue
                self.write_raw(tk.ws_frame(op, payload, False, fin=fin))
        except (EOFError, ConnectionError, OSError):
            return

    def route_sleep(self, q):
        self.read_body()
        self.server.state.sleep_entered.set()
        if self.server.state.stop.wait(float(q.get("s", ["5"])[0])):
            return
        self.send_simple(200, b"slept\n", "text/plain")

    def route_hang(self, q):
        self.read_body()
        self.server.state.hang_entered.set()
        self.server.state.stop.wait(120)
        self.close_connection = True


COOKIE_VALUES = [
    "a=1; Path=/; HttpOnly",
    "b=two words; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Secure",
    'c="quoted,comma"; SameSite=Lax',
    "d=; Max-Age=0",
]
COOKIES_BODY = b"cookies\n"
COOKIES_RESPONSE = (("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     + "".join("Set-Cookie: %s\r\n" % c for c in COOKIE_VALUES)
                     + "X-Multi: one\r\nX-Multi: two\r\n"
                     + "Content-Length: %d\r\n\r\n" % len(COOKIES_BODY)).encode() + COOKIES_BODY)
HOP_BODY = b"hop\n"
HOP_RESPONSE = (("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: X-Resp-Hop\r\n"
                 "X-Resp-Hop: secret\r\nKeep-Alive: timeout=7\r\nX-Resp-Keep: yes\r\n"
                 "Content-Length: %d\r\n\r\n" % len(HOP_BODY)).encode() + HOP_BODY)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A peer (the agent) closing or resetting a connection is normal here; others are shown.
        import sys
        if not isinstance(sys.exc_info()[1], (ConnectionError, EOFError, TimeoutError)):
            super().handle_error(request, client_address)


class LocalServer:
    """Starts the server on 127.0.0.1:0 in a thread; close() stops it and its handlers."""

    def __init__(self):
        self.state = State()
        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.state = self.state
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.state.stop.set()
        self.state.sse_ack.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


class TlsLocalServer(LocalServer):
    """The same server speaking HTTPS with (cert, key) on 127.0.0.1 or, with host "::1", on ::1
    only; `sni` lists the server names clients asked for (None when a ClientHello named none).
    The handshake runs in each connection's handler thread, not in the accepting one."""

    def __init__(self, cert, key, host="127.0.0.1"):
        import socket
        import ssl
        self.sni = []
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        ctx.sni_callback = lambda sock, name, c: self.sni.append(name)
        cls = _Server
        if ":" in host:
            cls = type("_Server6", (_Server,), {"address_family": socket.AF_INET6})
        self.state = State()
        self.httpd = cls((host, 0), Handler)
        self.httpd.state = self.state
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True,
                                            do_handshake_on_connect=False)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()
