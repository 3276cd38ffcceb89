# SPDX-License-Identifier: MIT
"""Early answers while an upload is in flight, against the full-duplex relay (test_duplex.py):
a 413 with Connection: close before a 50 MiB upload was read (the client gets it, nothing
hangs), a head that then stalls while the client keeps uploading (flow control holds the
client back: ttfd's and ttf's peak RSS stay bounded), a client that stops reading an echoed
upload (both directions full: bounded, and cleaned up when it leaves), a 100 then an early
final answer, and a pipelined request behind an early-answered body (answered on its own).
Both modes hold back only the stalled exchange (binary: stream windows; JSON with ttfd: request
windows, docs/protocol.md "Flow control"): another request goes through meanwhile."""

import socket
import time

import pytest

import tunnelkit as tk
from conftest import make_tunnel
from scriptapp import ScriptApp

UPLOAD = 50 * tk.MB
LIMIT_KB = 64 * 1024


def refuse_close(req, conn):
    conn.sendall(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\n"
                 b"Connection: close\r\n\r\ntoo big\n")
    return False


def head_then_stall(req, conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nstart\r\n")
    time.sleep(60)  # never reads the body; the test leaves first
    return False


def echo_stream(req, conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %s\r\n\r\n"
                 % req.get("Content-Length").encode())
    left = int(req.get("Content-Length"))
    if req.buf[0]:
        conn.sendall(req.buf[0][:left])
        left -= len(req.buf[0][:left])
    while left > 0:
        b = conn.recv(min(left, 65536))
        if not b:
            return False
        conn.sendall(b)
        left -= len(b)
    return True


def early_ok(req, conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nearly")
    return False


def continue_then_refuse(req, conn):
    conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    time.sleep(0.2)
    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno")
    return False


for h in (refuse_close, head_then_stall, echo_stream, early_ok, continue_then_refuse):
    h.streams_body = True


@pytest.fixture(scope="module", params=["binary", "json"])
def t(request, mstack):
    app = ScriptApp({"/refuse": refuse_close, "/stall": head_then_stall, "/echo": echo_stream,
                     "/early": early_ok, "/continue": continue_then_refuse})
    mstack.items.append(("server", app, None))
    tun = make_tunnel(mstack, ttf_args=["--protocol", request.param], local=app)
    tun.mode = request.param
    return tun


def check_rss(t, what):
    peaks = {"ttfd": t.ttfd.proc.vmhwm_kb(), "ttf": t.ttf.proc.vmhwm_kb()}
    print("%s: peak RSS ttfd %.1f MB, ttf %.1f MB" % (what, peaks["ttfd"] / 1024,
                                                      peaks["ttf"] / 1024))
    if tk.SANITIZED or tk.VALGRIND:
        return
    for name, kb in peaks.items():
        assert kb < LIMIT_KB, "%s peak RSS %.1f MB after %s" % (name, kb / 1024, what)


def push(s, total, stall_s):
    """Sends up to total octets; stops when the peer takes nothing for stall_s seconds or
    closes. Returns the octets sent."""
    s.setblocking(False)
    piece = b"u" * 65536
    sent, last = 0, time.monotonic()
    while sent < total:
        try:
            n = s.send(piece[:min(len(piece), total - sent)])
            sent += n
            last = time.monotonic()
        except BlockingIOError:
            if time.monotonic() - last > stall_s:
                break
            time.sleep(0.005)
        except (BrokenPipeError, ConnectionResetError):
            break
    s.setblocking(True)
    return sent


def test_early_413_close_during_a_50mib_upload(t):
    for _ in range(2):
        r = tk.http_early_answer(t.port, "POST", "/refuse", t.host,
                                 tk.pattern_chunks(UPLOAD), UPLOAD, timeout=30)
        assert r.status == 413 and r.body == b"too big\n", r.raw_head
    check_rss(t, "early 413s")
    assert tk.http(t.port, "GET", "/early", t.host).status == 200


def test_early_413_close_during_a_chunked_upload(t):
    c = tk.RawConn(t.port, timeout=30)
    try:
        c.send(b"POST /refuse HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
               % t.host.encode())
        try:
            for piece in tk.pattern_chunks(UPLOAD):
                c.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            c.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # ttfd stopped reading: the answer is waiting
        r = c.read_response("POST")
        assert r.status == 413 and r.body == b"too big\n", r.raw_head
        with pytest.raises((EOFError, ConnectionResetError)):
            c.read_head()  # Connection: close: nothing more on this connection
    finally:
        c.close()


@pytest.mark.parametrize("size", [10, 100 * 1024, 8 * 1024 * 1024])
def test_a_pipelined_request_behind_an_early_answered_body(t, size):
    c = tk.RawConn(t.port, timeout=20)
    try:
        c.send(b"POST /early HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n%s"
               b"GET /next HTTP/1.1\r\nHost: %s\r\n\r\n"
               % (t.host.encode(), size, b"G" * size, t.host.encode()))
        r1 = c.read_response("POST")
        assert r1.status == 200 and r1.body == b"early"
        if b"connection: close" not in r1.raw_head.lower():  # the rest was dropped whole
            assert size <= 1024 * 1024, "%d octets left unread on a kept connection" % size
            r2 = c.read_response("GET")
            assert r2.status == 404 and r2.body == b"", r2.raw_head
            assert [r.target for r in t.local.requests][-1] == "/next"
        else:  # too much left to drop: closed after the answer, the next request never mixed in
            assert size > 64 * 1024, r1.raw_head
            with pytest.raises((EOFError, ConnectionResetError)):
                c.read_head()
    finally:
        c.close()


def test_100_then_an_early_final_answer(t):
    c = tk.RawConn(t.port, timeout=20)
    try:
        c.send(b"PUT /continue HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n"
               b"Expect: 100-continue\r\n\r\n" % (t.host.encode(), 4 * tk.MB))
        status, _, _, _ = c.read_head()
        assert status == 100
        try:
            for piece in tk.pattern_chunks(4 * tk.MB):
                c.send(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = c.read_response("PUT")
        assert r.status == 403 and r.body == b"no", r.raw_head
    finally:
        c.close()


# last: they leave local services that never read behind them
def test_a_stalled_answer_holds_the_upload_back(t):
    s = socket.create_connection(("127.0.0.1", t.port), timeout=20 * tk.SLOW)
    try:
        s.sendall(b"POST /stall HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n"
                  % (t.host.encode(), UPLOAD))
        c = tk.RawConn(t.port, sock=s)
        status, _, _, _ = c.read_head()
        assert status == 200
        sent = push(s, UPLOAD, 3)
        print("the stalled answer let %.1f MB in" % (sent / tk.MB))
        assert sent < UPLOAD, "a service that reads nothing took the whole upload"
    finally:
        s.close()
    check_rss(t, "stalled upload")
    # the stream's window (binary) / request window (JSON) held back that exchange only
    assert tk.http(t.port, "GET", "/early", t.host, timeout=10).status == 200


def test_a_client_that_does_not_read_its_echo(t):
    s = socket.create_connection(("127.0.0.1", t.port), timeout=20 * tk.SLOW)
    try:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n"
                  % (t.host.encode(), UPLOAD))
        sent = push(s, UPLOAD, 3)
        print("the unread echo let %.1f MB in" % (sent / tk.MB))
        assert sent < UPLOAD
    finally:
        s.close()
    check_rss(t, "unread echo")
    # the stream's window (binary) / request window (JSON) held back that exchange only
    assert tk.http(t.port, "GET", "/early", t.host, timeout=10).status == 200
