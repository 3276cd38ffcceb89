# SPDX-License-Identifier: MIT
"""tests/e2e/delayproxy.py - a round trip on loopback without tc/netem: a TCP proxy that delays
every octet by half the round trip each way (no bandwidth limit). Window credit then costs a
round trip as on a real link (tests/e2e/test_hold_bursts.py, bench/upload_stall_cost.py).
Standard library only; close() shuts every connection down."""

import socket
import threading
import time


class DelayProxy:
    """A TCP proxy on 127.0.0.1 (an ephemeral port) to 127.0.0.1:target that delays every octet
    by rtt_ms / 2 each way: a round trip of rtt_ms without tc/netem (no bandwidth limit). Two
    threads per direction of each connection; close() shuts everything down. tap(upstream, data),
    when given, sees every read (upstream: toward target) as it is read, to trace a link."""

    def __init__(self, target, rtt_ms, tap=None):
        self.target = target
        self.tap = tap
        self.delay = rtt_ms / 2000.0
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.socks = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                a, _ = self.lsock.accept()
                b = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                return
            for s in (a, b):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.socks += [a, b]
            self.pipe(a, b, True)
            self.pipe(b, a, False)

    def pipe(self, src, dst, upstream):
        q = []
        cv = threading.Condition()

        def reader():
            while True:
                try:
                    data = src.recv(262144)
                except OSError:
                    data = b""
                if self.tap:
                    self.tap(upstream, data)
                with cv:
                    q.append((time.monotonic() + self.delay, data))
                    cv.notify()
                if not data:
                    return

        def writer():
            while True:
                with cv:
                    while not q:
                        cv.wait()
                    due, data = q.pop(0)
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                try:
                    if not data:
                        dst.shutdown(socket.SHUT_WR)
                        return
                    dst.sendall(data)
                except OSError:
                    return

        threading.Thread(target=reader, daemon=True).start()
        threading.Thread(target=writer, daemon=True).start()

    def close(self):
        self.lsock.close()
        for s in self.socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
