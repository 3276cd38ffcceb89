# SPDX-License-Identifier: MIT
"""A local service that answers a head and then never reads its 20 MiB upload holds back that
exchange only (docs/protocol.md §2 "Flow control": JSON mode's request windows with ttfd, binary
mode's stream windows): a second request through the same agent is answered while it waits,
and when the uploading client leaves, ttfd's cancel reaches ttf, which closes that local
connection (seen from the kernel's socket table, without the service reading a byte). Before
JSON mode had request windows, ttf stopped reading the link for such a service: every other
request of the agent, and the cancel itself, waited behind its body. A service that reads its
upload slowly but steadily is not timed out while it reads, in either mode."""

import hashlib
import socket
import threading
import time
from types import SimpleNamespace

import pytest

import tunnelkit as tk
from conftest import make_tunnel
from scriptapp import ScriptApp

UPLOAD = 20 * tk.MB
ANSWER_S = 10 * tk.SLOW  # the second request's deadline


class Holder:
    """/hold: sends a head, then a byte of body every 0.2 s (so that ttfd, which does not read a
    client it holds back, sees the client leave when it writes), never reading the request body
    nor closing until released or its connection fails; notes the peer's address (ttf's end of
    the local connection)."""

    def __init__(self):
        self.peers = []
        self.release = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, req, conn):
        with self.lock:
            self.peers.append(conn.getpeername())
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nstart\r\n")
        while not self.release.wait(0.2):
            conn.sendall(b"1\r\nx\r\n")
        return False


def quick(req, conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nquick")
    return True


quick.streams_body = True


def push(s, total, stall_s):
    """Sends up to total octets; stops when the peer takes nothing for stall_s seconds.
    Returns the octets sent."""
    s.setblocking(False)
    piece = b"u" * 65536
    sent, last = 0, time.monotonic()
    while sent < total:
        try:
            sent += s.send(piece[:min(len(piece), total - sent)])
            last = time.monotonic()
        except BlockingIOError:
            if time.monotonic() - last > stall_s:
                break
            time.sleep(0.005)
    s.setblocking(True)
    return sent


@pytest.fixture(params=["binary", "json"])
def t(request, stack):
    holder = Holder()
    holder.streams_body = True
    app = ScriptApp({"/hold": holder, "/quick": quick})
    stack.items.append(("server", app, None))
    tun = make_tunnel(stack, ttf_args=["--protocol", request.param], local=app)
    tun.holder = holder
    yield tun
    holder.release.set()


def test_a_service_that_does_not_read_its_upload_holds_back_only_its_exchange(t):
    s = socket.create_connection(("127.0.0.1", t.port), timeout=20 * tk.SLOW)
    try:
        s.sendall(b"POST /hold HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n"
                  % (t.host.encode(), UPLOAD))
        status, _, _, _ = tk.RawConn(t.port, sock=s).read_head()
        assert status == 200
        sent = push(s, UPLOAD, 3)
        print("the service that reads nothing let %.1f MB in" % (sent / tk.MB))
        assert sent < UPLOAD, "a service that reads nothing took the whole upload"

        t0 = time.monotonic()
        r = tk.http(t.port, "GET", "/quick", t.host, timeout=10)
        took = time.monotonic() - t0
        print("the second request was answered in %.3f s" % took)
        assert r.status == 200 and r.body == b"quick"
        assert took < ANSWER_S
    finally:
        s.close()  # the uploading client leaves: ttfd cancels the exchange

    assert len(t.holder.peers) == 1
    peer = t.holder.peers[0]
    app_addr = ("127.0.0.1", t.local.port)
    tk.wait_for(lambda: tk.tcp_state(peer, app_addr) != tk.TCP_ESTABLISHED, 10 * tk.SLOW,
                "ttf closing the local connection of the exchange its client left")


SLOW_READ_S = 7  # over twice the 3 s timeouts of the fixture below


def slow_reader(req, conn):
    """/slow: reads 8 KiB of its upload every 50 ms (160 KB/s) for SLOW_READ_S, then the rest at
    once; answers the body's SHA-256."""
    left = int(req.get("Content-Length"))
    h = hashlib.sha256(req.buf[0][:left])
    left -= len(req.buf[0][:left])
    end = time.monotonic() + SLOW_READ_S
    while left > 0:
        data = conn.recv(min(8192 if time.monotonic() < end else 65536, left))
        if not data:
            return False
        h.update(data)
        left -= len(data)
        if time.monotonic() < end:
            time.sleep(0.05)
    out = h.hexdigest().encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(out), out))
    return True


slow_reader.streams_body = True


@pytest.fixture(params=["binary", "json"])
def slow(request, stack):
    app = ScriptApp({"/slow": slow_reader})
    stack.items.append(("server", app, None))
    d = stack.ttfd("--request-timeout", "3")
    a = stack.ttf(d.endpoint(), app.port, "--protocol", request.param, "--request-timeout", "3")
    return SimpleNamespace(port=d.port, host=tk.sub_host(d, a.tunnel_id))


def test_a_service_reading_its_upload_slowly_is_not_timed_out(slow):
    """Both ends time a request out (504) when it has not moved for --request-timeout; a service
    that reads its upload steadily at 160 KB/s is moving it. The kernel held megabytes of it for
    the service (a send buffer autotuned to 4 MiB wakes its writer after a third of it was read:
    9 s here), and a JSON request window was credited only once its whole 1 MiB was written: 504
    after 3 s in both modes while the service read."""
    n = 24 * tk.MB
    body = b"".join(tk.pattern_chunks(n))
    t0 = time.monotonic()
    r = tk.http(slow.port, "POST", "/slow", slow.host, body=body, timeout=30)
    print("%d after %.1f s: %r" % (r.status, time.monotonic() - t0, r.body[:60]))
    assert r.status == 200
    assert r.body == hashlib.sha256(body).hexdigest().encode()
