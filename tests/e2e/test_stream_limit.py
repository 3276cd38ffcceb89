# SPDX-License-Identifier: MIT
"""ttfd --max-streams-per-agent: an agent has at most that many public requests in progress at
once (over all its tunnels). One more gets 503 with Retry-After: 1 and a one-line body at once,
never reaches the agent, and slows no other tunnel; as streams finish, new ones are let in.
Both wire modes. The default (256) lets 256 requests wait and answers the rest 503, so that what
one tunnel's clients make ttfd hold is bounded."""

import socket
import struct
import threading
import time

import pytest

import tunnelkit as tk
from conftest import make_tunnel
from scriptapp import ScriptApp

CAP = 4
AT_ONCE = 1.0 * tk.SLOW  # a refusal takes no wait


class Holds:
    """/hold?N: answers only once hold N is released."""

    def __init__(self):
        self.events = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def event(self, n):
        with self.lock:
            return self.events.setdefault(n, threading.Event())

    def release(self, n):
        self.event(n).set()

    def __call__(self, req, conn):
        ev = self.event(int(req.target.partition("?")[2]))
        while not ev.wait(0.1):
            if self.stop.is_set():
                return False
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nheld")
        return True


def quick(req, conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nquick")
    return True


@pytest.fixture(params=["binary", "json"])
def t(request, stack):
    holds = Holds()
    app = ScriptApp({"/hold": holds, "/quick": quick})
    stack.items.append(("server", app, None))
    stack.items.append(("server", type("R", (), {"close": lambda self: holds.stop.set()})(), None))
    tun = make_tunnel(stack, ttfd_args=["--max-streams-per-agent", str(CAP)],
                      ttf_args=["--protocol", request.param], local=app)
    tun.holds, tun.app, tun.mode = holds, app, request.param
    return tun


def start_hold(t, n):
    c = tk.RawConn(t.port, timeout=30)
    c.send(b"GET /hold?%d HTTP/1.1\r\nHost: %s\r\n\r\n" % (n, t.host.encode()))
    c.n = n
    return c


def holds_in_progress(t, n):
    tk.wait_for(lambda: sum(x.startswith("/hold") for x in t.app.targets()) >= n, 10 * tk.SLOW,
                "%d holds" % n)


def test_past_the_limit_a_503_at_once_and_the_agent_never_sees_it(t, stack):
    other = make_tunnel(stack, ttf_args=["--protocol", t.mode])  # another agent, same ttfd
    held = [start_hold(t, i) for i in range(CAP)]
    try:
        holds_in_progress(t, CAP)
        seen = len(t.app.targets())
        for _ in range(3):
            t0 = time.monotonic()
            r = tk.http(t.port, "GET", "/quick", t.host, timeout=10)
            took = time.monotonic() - t0
            assert r.status == 503, r.raw_head
            assert took < AT_ONCE, "the refusal took %.2f s" % took
            assert r.get("Retry-After") == "1"
            assert r.get("Content-Type") == "text/plain; charset=utf-8"
            assert r.body == b"tunnel agent busy: try again\n"
        assert len(t.app.targets()) == seen  # none of them reached the local service
        # another tunnel is not slowed down
        t0 = time.monotonic()
        r = tk.http(other.port, "GET", "/", other.host, timeout=10)
        assert r.status == 200 and time.monotonic() - t0 < AT_ONCE
        t.ttfd.proc.wait_line(r"GET /quick 503 .*refused: busy", 5, stream="err")
        t.ttfd.proc.wait_line(r"--max-streams-per-agent", 5, stream="err")  # the warning
        # one ends: the next request goes through
        t.holds.release(0)
        r = held[0].read_response()
        assert r.status == 200 and r.body == b"held"
        r = tk.http(t.port, "GET", "/quick", t.host, timeout=10)
        assert r.status == 200 and r.body == b"quick"
    finally:
        for c in held:
            c.close()


def test_an_expect_100_continue_past_the_limit_gets_the_503_and_no_100(t):
    """A client that waits for 100 Continue before a large body, past the limit: the 503 is its
    first answer, in both modes, so that it never sends the body (JSON mode, where ttfd answers
    Expect itself, wrote 100 Continue first and refused after it)."""
    held = [start_hold(t, i) for i in range(CAP)]
    try:
        holds_in_progress(t, CAP)
        c = tk.RawConn(t.port, timeout=10)
        try:
            c.send(b"POST /quick HTTP/1.1\r\nHost: %s\r\nExpect: 100-continue\r\n"
                   b"Content-Length: 50000000\r\n\r\n" % t.host.encode())
            r = c.read_response()
            assert r.status == 503, r.raw_head
            assert r.body == b"tunnel agent busy: try again\n"
        finally:
            c.close()
        # below the limit the request goes on with its Expect, in both modes alike (the 100,
        # if any, is the app's: JSON mode relays interim responses as binary mode does)
        t.holds.release(0)
        assert held[0].read_response().status == 200
        c = tk.RawConn(t.port, timeout=10)
        try:
            c.send(b"POST /quick HTTP/1.1\r\nHost: %s\r\nExpect: 100-continue\r\n"
                   b"Content-Length: 5\r\n\r\n" % t.host.encode())
            c.send(b"hello")
            r = c.read_response()
            while r.status == 100:
                r = c.read_response()
            assert r.status == 200 and r.body == b"quick", r.raw_head
        finally:
            c.close()
    finally:
        for c in held:
            c.close()


def test_streams_finishing_and_new_ones_arriving_stay_within_the_limit(t):
    """CAP - 1 requests wait throughout; quick ones come and go (each its own stream): none is
    refused. Then holds finish one by one while new holds arrive: always CAP at most, never a
    refusal while a place is free."""
    held = [start_hold(t, i) for i in range(CAP - 1)]
    try:
        holds_in_progress(t, CAP - 1)
        for _ in range(30):
            r = tk.http(t.port, "GET", "/quick", t.host, timeout=10)
            assert r.status == 200, r.raw_head
        held.append(start_hold(t, CAP - 1))
        holds_in_progress(t, CAP)
        for i in range(8):  # the oldest ends, a new one takes its place
            oldest = held.pop(0)
            t.holds.release(oldest.n)
            r = oldest.read_response()
            assert r.status == 200 and r.body == b"held", (i, r.raw_head)
            tk.wait_for(lambda: tk.http(t.port, "GET", "/quick", t.host).status == 200,
                        5 * tk.SLOW, "a place free once a hold ended")
            held.append(start_hold(t, CAP + i))
            holds_in_progress(t, CAP + i + 1)
            r = tk.http(t.port, "GET", "/quick", t.host, timeout=10)
            assert r.status == 503, (i, r.raw_head)
    finally:
        for c in held:
            c.close()


def test_a_client_that_resets_frees_its_place_and_a_half_close_keeps_it(t):
    """A reset frees the place at once. A FIN after the whole request is a half-close (its
    answer is still owed: test_client_leaves.py): the place is kept until that answer ends."""
    held = [start_hold(t, i) for i in range(CAP)]
    try:
        holds_in_progress(t, CAP)
        assert tk.http(t.port, "GET", "/quick", t.host, timeout=10).status == 503
        last = held.pop()
        last.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        last.close()  # a reset: its stream is cancelled, its place free
        tk.wait_for(lambda: tk.http(t.port, "GET", "/quick", t.host).status == 200,
                    5 * tk.SLOW, "the place of the client that left")
        held.append(start_hold(t, CAP))
        holds_in_progress(t, CAP + 1)
        half = held.pop()
        half.sock.shutdown(socket.SHUT_WR)
        time.sleep(0.3)
        assert tk.http(t.port, "GET", "/quick", t.host, timeout=10).status == 503
        t.holds.release(CAP)
        r = half.read_response()
        assert r.status == 200 and r.body == b"held"
        half.close()
        tk.wait_for(lambda: tk.http(t.port, "GET", "/quick", t.host).status == 200,
                    5 * tk.SLOW, "the place of the answered half-close")
    finally:
        for c in held:
            c.close()


def test_the_default_limit(stack):
    """No flag: 256 requests of one agent wait at once, the next ones get 503 at once; as they
    end, new ones go through."""
    holds = Holds()
    app = ScriptApp({"/hold": holds, "/quick": quick})
    stack.items.append(("server", app, None))
    stack.items.append(("server", type("R", (), {"close": lambda self: holds.stop.set()})(), None))
    tun = make_tunnel(stack, local=app)
    tun.app = app
    held = [start_hold(tun, i) for i in range(256)]
    try:
        holds_in_progress(tun, 256)
        for _ in range(12):
            r = tk.http(tun.port, "GET", "/quick", tun.host, timeout=10)
            assert r.status == 503 and r.get("Retry-After") == "1", r.raw_head
        holds.release(0)
        assert held[0].read_response().status == 200
        tk.wait_for(lambda: tk.http(tun.port, "GET", "/quick", tun.host).status == 200,
                    5 * tk.SLOW, "a place free once a hold ended")
    finally:
        for i in range(256):
            holds.release(i)
        for c in held:
            c.close()


SEND_TIMEOUT = 2


@pytest.fixture(params=["binary", "json"])
def dl(request, stack):
    """A tunnel to localsrv (downloads, WebSockets) with one place and --send-timeout 2."""
    tun = make_tunnel(stack, ttfd_args=["--max-streams-per-agent", "1", "--send-timeout",
                                        str(SEND_TIMEOUT)],
                      ttf_args=["--protocol", request.param])
    tun.mode = request.param
    return tun


def stalled_download(t):
    """A client that asks for 64 MiB and reads nothing (a small receive buffer)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", t.port))
    s.sendall(b"GET /download?n=%d HTTP/1.1\r\nHost: %s\r\n\r\n" % (64 << 20, t.host.encode()))
    return s


def status_of_quick(t):
    return tk.http(t.port, "GET", "/echo", t.host, timeout=10).status


def test_a_client_that_takes_nothing_gives_its_place_back_after_send_timeout(dl):
    """A download whose client reads nothing held its stream, and so a place under
    --max-streams-per-agent, for as long as the client kept the socket open: 256 such sockets
    locked a tunnel out for good. After --send-timeout without the client taking an octet
    (nginx's send_timeout, 60 s by default) the connection is closed and the agent told."""
    s = stalled_download(dl)
    try:
        t0 = time.monotonic()
        tk.wait_for(lambda: status_of_quick(dl) == 503, 5 * tk.SLOW, "the download's place")
        tk.wait_for(lambda: status_of_quick(dl) == 200, (SEND_TIMEOUT + 8) * tk.SLOW,
                    "the place back once --send-timeout passed")
        assert time.monotonic() - t0 >= SEND_TIMEOUT * 0.9
        dl.ttfd.proc.wait_line(r"GET /download\S* 200 ", 5, stream="err")
        s.settimeout(10 * tk.SLOW)
        try:
            while s.recv(65536):
                pass
        except ConnectionResetError:
            pass  # what was left unread is dropped with the connection
    finally:
        s.close()


def test_a_slow_reader_and_an_idle_websocket_outlive_send_timeout(dl):
    """Only a client that takes nothing is cut: one reading 8 KiB every half second keeps its
    download past several --send-timeout periods; an idle WebSocket (binary mode) is no
    output waiting at all."""
    s = stalled_download(dl)
    try:
        got = 0
        end = time.monotonic() + 3 * SEND_TIMEOUT
        s.settimeout(10 * tk.SLOW)
        while time.monotonic() < end:
            data = s.recv(8192)
            assert data, "the slow reader's download was cut after %d octets" % got
            got += len(data)
            time.sleep(0.5)
        assert status_of_quick(dl) == 503  # still its place
    finally:
        s.close()
    tk.wait_for(lambda: status_of_quick(dl) == 200, 5 * tk.SLOW, "the place back")
    if dl.mode != "binary":
        return
    c = tk.RawConn(dl.port, timeout=10)
    try:
        c.send(tk.build_request("GET", "/ws", dl.host, [
            ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")]))
        assert c.read_head()[0] == 101
        time.sleep(2 * SEND_TIMEOUT)
        c.send(tk.ws_frame(1, b"still here", True))
        assert tk.ws_read_message(c.read_exact) == (1, False, b"still here")
    finally:
        c.close()
