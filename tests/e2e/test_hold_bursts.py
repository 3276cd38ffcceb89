# SPDX-License-Identifier: MIT
"""ttf's request-body hold (agent/hold.h) must not fail an upload whose local service reads it,
however slowly: a service that takes a piece only every 1.5 s (it processes each MiB before the
next: a hash, a slow disk, a part uploaded elsewhere) is reading. 28 concurrent JSON uploads of
4 MiB each hold about 27 MiB in ttf (past the 24 MiB soft bound, under the 32 MiB hard one):
with a 1 s stall time 8 of 30 got 504 "the local service did not take the request body in time"
although every one was progressing (attack6)."""

import hashlib
import os
import socket
import threading

import tunnelkit as tk

N = 28
SIZE = 4 << 20
BURST_S = 1.5


class BurstReader:
    """A threaded local service that reads each request body 1 MiB at a time every BURST_S, then
    answers the body's sha256."""

    def __init__(self):
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(128)
        self.port = self.ls.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            c.settimeout(60 * tk.SLOW)
            buf = b""
            while b"\r\n\r\n" not in buf:
                x = c.recv(4096)
                if not x:
                    return
                buf += x
            head, _, body = buf.partition(b"\r\n\r\n")
            n = next(int(ln.split(b":", 1)[1]) for ln in head.split(b"\r\n")
                     if ln.lower().startswith(b"content-length:"))
            h = hashlib.sha256(body)
            got = len(body)
            while got < n:
                if self.stop.wait(BURST_S):
                    return
                x = c.recv(min(1 << 20, n - got))
                if not x:
                    return
                h.update(x)
                got += len(x)
            out = h.hexdigest().encode()
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(out) + out)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.stop.set()
        self.ls.close()


def test_uploads_read_in_bursts_are_not_failed(stack):
    app = BurstReader()
    stack.items.append(("server", app, None))
    d = stack.ttfd("--request-timeout", "60", "--body-timeout", "60")
    a = stack.ttf(d.endpoint(), app.port, "--protocol", "json", "--request-timeout", "60")
    host = tk.sub_host(d, a.tunnel_id)
    body = os.urandom(SIZE)
    want = hashlib.sha256(body).hexdigest().encode()
    results = []

    def upload():
        try:
            r = tk.http(d.port, "POST", "/up", host, body=body, timeout=90)
            results.append((r.status, r.body))
        except Exception as e:  # noqa: BLE001 - reported below
            results.append(("exception", repr(e).encode()))

    threads = [threading.Thread(target=upload) for _ in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120 * tk.SLOW)
    assert not any(t.is_alive() for t in threads)
    bad = [r for r in results if r != (200, want)]
    assert not bad, "%d of %d uploads failed: %r" % (len(bad), N, sorted(set(bad))[:3])
    assert not [ln for ln in a.proc.err_lines if "took none of its body" in ln]
