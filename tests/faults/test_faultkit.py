# SPDX-License-Identifier: MIT
"""The suite's own checker can fail: faultkit.Client classifies answers from a fake server that
gets them wrong on purpose (another request's marker or bytes, a cut body that is not its own,
an error page carrying data, an interim response, silence). Without this, a checker that
accepted everything would make every fault test pass."""

import socket
import threading

import pytest

import faultkit as fk

MK = "mk-self-0-1"
OTHER = "mk-self-0-2"


def answer(kind):
    own, other = fk.pattern(MK, 1000), fk.pattern(OTHER, 1000)
    head = "HTTP/1.1 200 OK\r\nX-Marker: %s\r\nContent-Length: %d\r\n\r\n"
    return {
        "own": (head % (MK, 1000)).encode() + own,
        "own-chunked": ("HTTP/1.1 200 OK\r\nX-Marker: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "%x\r\n" % (MK, 1000)).encode() + own + b"\r\n0\r\n\r\n",
        "other-marker": (head % (OTHER, 1000)).encode() + other,
        "other-body": (head % (MK, 1000)).encode() + other,
        "own-cut": (head % (MK, 1000)).encode() + own[:300],
        # complete answers whose body is a prefix of its own (a relay framing a close-delimited
        # body the local service ended early) or empty
        "own-prefix-chunked": ("HTTP/1.1 200 OK\r\nX-Marker: %s\r\nTransfer-Encoding: chunked"
                               "\r\n\r\n%x\r\n" % (MK, 300)).encode() + own[:300] + b"\r\n0\r\n\r\n",
        "own-empty": (head % (MK, 0)).encode(),
        "other-prefix-chunked": ("HTTP/1.1 200 OK\r\nX-Marker: %s\r\nTransfer-Encoding: chunked"
                                 "\r\n\r\n%x\r\n" % (MK, 300)).encode() + other[:300]
        + b"\r\n0\r\n\r\n",
        "other-cut": (head % (MK, 1000)).encode() + other[:300],
        "short-502": b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 4\r\n\r\nnope",
        "502-with-data": b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 1000\r\n\r\n" + other,
        "interim": b"HTTP/1.1 100 Continue\r\n\r\n" + (head % (MK, 1000)).encode() + own,
        "garbage": b"SSH-2.0-OpenSSH\r\n\r\n",
        "silence": b"",
    }[kind]


@pytest.mark.parametrize("kind,expect,origin_close", [
    ("own", "ok", False), ("own-chunked", "ok", False), ("other-marker", "wrong", False),
    ("other-body", "wrong", False), ("own-cut", "cut", False), ("other-cut", "wrong", False),
    ("short-502", "error", False), ("502-with-data", "wrong", False), ("interim", "wrong", False),
    ("garbage", "wrong", False), ("silence", "hang", False),
    # a complete answer with a short body: wrong, but when the local service closed to end it
    # (nobody can tell its early close from the end), and then only with its own octets
    ("own-prefix-chunked", "wrong", False), ("own-empty", "wrong", False),
    ("own-prefix-chunked", "cut", True), ("own-empty", "cut", True),
    ("other-prefix-chunked", "wrong", True), ("own", "ok", True), ("other-body", "wrong", True),
])
def test_client_classifies(kind, expect, origin_close):
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    done = threading.Event()

    def serve():
        s, _ = ls.accept()
        s.recv(65536)
        s.sendall(answer(kind))
        if kind != "silence":
            s.close()
        # silent until the client has classified (done is set right after): a fixed wait here
        # ended before the client's timeout, which grows with tk.SLOW (10x under valgrind)
        done.wait(120)
        s.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    c = fk.Client(fk.Route(ls.getsockname()[1], "x"), timeout=1)
    try:
        o = c.exchange("GET", "/m/" + MK, MK, fk.pattern(MK, 1000), origin_close=origin_close)
    finally:
        done.set()
        c.close()
        t.join(5)
        ls.close()
    assert o.kind == expect, o


def test_load_check_fails_on_a_wrong_answer():
    ld = fk.Load(fk.Route(1, "x"))
    ld.outcomes = [fk.Outcome("ok", 200), fk.Outcome("error", 502, "x")]
    ld.check(allow=(502,))
    with pytest.raises(AssertionError):
        ld.check()  # a 502 not allowed
    ld.outcomes.append(fk.Outcome("wrong", 200, "X-Marker of another"))
    with pytest.raises(AssertionError):
        ld.check(allow=(502, "cut", "closed"))
