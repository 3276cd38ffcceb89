# SPDX-License-Identifier: MIT
"""The resend after a stale pooled local connection (test_local_retry.py), at its edges: methods
are case-sensitive (RFC 9110 §9.1: "get" and "Get" are not GET, an extension method is not
idempotent), a request with a body is never resent (its body is not kept), HEAD and OPTIONS are,
and an answer cut after its first octets is never resent (the service was answering)."""

import collections
import threading

import pytest

import tunnelkit as tk
from conftest import make_tunnel
from scriptapp import ScriptApp


@pytest.fixture(scope="module", params=["binary", "json"])
def t(request, mstack):
    seen = collections.Counter()
    lock = threading.Lock()

    def handler(req, conn):
        with lock:
            seen[(req.method, req.target)] += 1
        if req.target == "/warm":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            return True
        if req.target.startswith("/partial"):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Le")
        return False  # applied, then closed (without an answer, or inside it)

    app = ScriptApp({"/": handler})
    mstack.items.append(("server", app, None))
    tun = make_tunnel(mstack, ttf_args=["--protocol", request.param], local=app)
    tun.seen, tun.lock = seen, lock
    return tun


@pytest.mark.parametrize("method,target,body,times", [
    ("get", "/apply", b"", 1), ("Get", "/apply", b"", 1), ("PURGE", "/apply", b"", 1),
    ("HEAD", "/apply", b"", 2), ("OPTIONS", "/apply", b"", 2),
    ("GET", "/with-body", b"abc", 1), ("PUT", "/with-body", b"x" * 70000, 1),
    ("GET", "/partial", b"", 1), ("HEAD", "/partial", b"", 1),
])
def test_resend_edges(t, method, target, body, times):
    target = "%s-%s" % (target, method)
    assert tk.http(t.port, "GET", "/warm", t.host).status == 200
    r = tk.http(t.port, method, target, t.host, body=body)
    assert r.status == 502, r.raw_head

    def applied():
        with t.lock:
            return t.seen[(method, target)]

    tk.wait_for(lambda: applied() >= times, 10, "the app to see %s %d times" % (method, times))
    assert tk.http(t.port, "GET", "/warm", t.host).status == 200
    assert applied() == times, "%s %s applied %d times" % (method, target, applied())
