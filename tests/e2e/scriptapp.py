# SPDX-License-Identifier: MIT
"""A local app whose answers the test writes byte for byte (interim responses, chunked bodies,
HTML with links, endless streams), and which records what reached it and when.

ScriptApp(routes): routes maps a path prefix to handler(req, conn) where req is a Request (method,
target, version, headers as [(name, value)], body bytes, arrival times) and conn the socket. A
handler writes whatever it likes and returns True to keep the connection for another request.
Requests are read leniently (a bare LF ends a line) so that anything smuggled through the tunnel
would show up as a request of its own. Owns its listening socket and threads; close() ends them.
"""

import socket
import threading
import time


class Request:
    def __init__(self, method, target, version, headers):
        self.method, self.target, self.version, self.headers = method, target, version, headers
        self.body = b""
        self.chunks = 0  # chunked: how many chunks the body came in (the last one not counted)
        self.head_at = time.monotonic()  # when the head was read
        self.body_done_at = None  # when the body was read whole

    def get(self, name):
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None


class ScriptApp:
    def __init__(self, routes, read_body=True):
        self.routes = routes
        self.read_body = read_body
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.requests = []
        self.events = []  # (name, time) the handlers note
        self.conns = []
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def note(self, name):
        with self.cond:
            self.events.append((name, time.monotonic()))
            self.cond.notify_all()

    def wait_event(self, name, timeout):
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for n, t in self.events:
                    if n == name:
                        return t
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("the app never noted %r (events: %r)"
                                         % (name, self.events))
                self.cond.wait(left)

    def wait_requests(self, n, timeout):
        end = time.monotonic() + timeout
        with self.cond:
            while len(self.requests) < n:
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("the app got %d requests, not %d"
                                         % (len(self.requests), n))
                self.cond.wait(left)
            return list(self.requests)

    def targets(self):
        with self.lock:
            return [r.target for r in self.requests]

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    @staticmethod
    def _line(conn, buf):
        while b"\n" not in buf[0]:
            data = conn.recv(65536)
            if not data:
                raise EOFError
            buf[0] += data
        line, buf[0] = buf[0].split(b"\n", 1)
        return line.rstrip(b"\r")

    @staticmethod
    def _exact(conn, buf, n):
        while len(buf[0]) < n:
            data = conn.recv(65536)
            if not data:
                raise EOFError
            buf[0] += data
        out, buf[0] = buf[0][:n], buf[0][n:]
        return out

    def _serve(self, conn):
        buf = [b""]
        try:
            while True:
                line = self._line(conn, buf)
                if not line:
                    continue
                method, target, version = line.split(b" ", 2)
                headers = []
                while True:
                    h = self._line(conn, buf)
                    if not h:
                        break
                    name, _, value = h.partition(b":")
                    headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
                req = Request(method.decode("latin-1"), target.decode("latin-1"),
                              version.decode("latin-1"), headers)
                with self.cond:
                    self.requests.append(req)
                    self.cond.notify_all()
                handler = None
                for prefix, h in self.routes.items():
                    if req.target.startswith(prefix):
                        handler = h
                        break
                if self.read_body and not getattr(handler, "streams_body", False):
                    self._read_body(conn, buf, req)
                if handler is None:
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    continue
                req.buf = buf
                if not handler(req, conn):
                    return
        except (EOFError, OSError, ValueError):
            pass
        finally:
            conn.close()

    @classmethod
    def read_chunked(cls, conn, buf):
        """A chunked body from conn (buf: what was read ahead): its chunks' data, in order, and
        the field lines of its trailer section."""
        chunks, trailers = [], []
        while True:
            size = int(cls._line(conn, buf).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while True:
                    ln = cls._line(conn, buf)
                    if not ln:
                        return chunks, trailers
                    trailers.append(ln)
            chunks.append(cls._exact(conn, buf, size))
            cls._line(conn, buf)

    def _read_body(self, conn, buf, req):
        te = (req.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks, _ = self.read_chunked(conn, buf)
            req.body += b"".join(chunks)
            req.chunks += len(chunks)
        elif req.get("Content-Length"):
            req.body = self._exact(conn, buf, int(req.get("Content-Length")))
        req.body_done_at = time.monotonic()

    def close(self):
        self.stopping = True
        try:
            self.lsock.close()
        except OSError:
            pass
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()
