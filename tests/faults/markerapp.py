#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The local service of the fault-injection suite, in a process of its own so that a test can
kill it (SIGKILL mid-response) and start it again on the same port.

Usage: markerapp.py PORT NAME   (PORT 0: any; prints "listening <port>" once it accepts)

Every answer carries the request's marker (a path segment the client chose) back: the header
`X-Marker`, the header `X-App: NAME`, and a body derived from the marker (faultkit.pattern), so a
client can tell its own answer from anyone else's, byte for byte, even from a truncated body.
Routes (any method):
  /m/<marker>?n=N[&mode=length|chunked|close][&ms=M][&slow=1][&die=head|half[&rst=1]]
        N bytes of pattern(marker); the head after M ms; slow=1 writes the body in 16 KiB pieces
        10 ms apart (so that a fault lands mid-body); die: the app SIGKILLs itself once the head
        (head) or the first N/2 body bytes (half) are written, so the close comes from the kernel
        (a FIN; with rst=1 an RST: SO_LINGER 0)
  /echo/<marker>   the request body back (Content-Length or chunked request), same headers
  anything else    404 with a short body
SIGTERM exits 0 at once (handler threads are daemons).
"""

import os
import signal
import socket
import struct
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def pattern(marker, n):
    unit = (marker + ":").encode()
    return (unit * (n // len(unit) + 1))[:n]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fault-app"
    disable_nagle_algorithm = True  # the head and the body leave at once (no 40 ms delayed ACK)

    def log_message(self, fmt, *args):
        pass

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.dispatch
        raise AttributeError(name)

    def body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline(8)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def head(self, status, marker, length=None, chunked=False, close=False):
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("X-Marker", marker)
        self.send_header("X-App", self.server.app_name)
        if length is not None:
            self.send_header("Content-Length", str(length))
        elif chunked:
            self.send_header("Transfer-Encoding", "chunked")
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()

    def die(self, part, chunked, rst):
        """Writes part (one chunk when chunked) and is killed with the connection open."""
        if part:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
        self.wfile.flush()
        if rst:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        os.kill(os.getpid(), signal.SIGKILL)

    def dispatch(self):
        u = urlsplit(self.path)
        parts = u.path.split("/")
        q = parse_qs(u.query)
        body = self.body()
        if len(parts) != 3 or parts[1] not in ("m", "echo"):
            msg = b"no such route\n"
            self.send_response(404)
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return
        marker = parts[2]
        if parts[1] == "echo":
            self.head(200, marker, len(body))
            self.wfile.write(body)
            return
        n = int(q.get("n", ["0"])[0])
        mode = q.get("mode", ["length"])[0]
        time.sleep(int(q.get("ms", ["0"])[0]) / 1000.0)
        self.head(200, marker, n if mode == "length" else None, mode == "chunked", mode == "close")
        if self.command == "HEAD":
            return
        die = q.get("die", [""])[0]
        if die:
            self.die(pattern(marker, n // 2) if die == "half" else b"", mode == "chunked",
                     bool(q.get("rst")))
        step = 16384 if q.get("slow") else 262144
        unit = len(marker) + 1
        block = pattern(marker, step + 2 * unit)  # any piece of the body is a slice of it
        for i in range(0, n, step):
            off = i % unit
            piece = block[off:off + min(step, n - i)]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if mode == "chunked" else piece)
            if q.get("slow"):
                self.wfile.flush()
                time.sleep(0.01)
        if mode == "chunked":
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        pass  # a peer that leaves mid-exchange is what these tests do


def main():
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    srv = Server(("127.0.0.1", int(sys.argv[1])), Handler)
    srv.app_name = sys.argv[2]
    print("listening %d" % srv.server_address[1], flush=True)
    srv.serve_forever(poll_interval=0.1)


if __name__ == "__main__":
    main()
