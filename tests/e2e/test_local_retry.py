# SPDX-License-Identifier: MIT
"""ttf sends a request again on a fresh connection when the pooled keep-alive connection it used
ends before one octet of the answer (the local service closed it while idle). That is safe only
for idempotent methods (RFC 9110 §9.2.2): the service may have applied the request and closed
without answering, and "a proxy MUST NOT automatically retry non-idempotent requests" (RFC 9112
§9.3.1; nginx stopped retrying them in 1.9.13, Go's Transport retries only replayable requests).
A bodiless POST, PATCH or LOCK is applied once and answered 502; a GET or DELETE still gets its
second chance (which also proves the request went on a pooled connection).

At the edges: methods are case-sensitive (RFC 9110 §9.1: "get" and "Get" are not GET, an extension
method is not idempotent), a request with a body is never resent (its body is not kept), HEAD and
OPTIONS are, and an answer cut after its first octets is never resent (the service was
answering)."""

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
            return True  # kept: ttf pools the connection
        if req.target.startswith("/partial"):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Le")
        return False  # applied, then closed (without an answer, or inside it)

    app = ScriptApp({"/": handler})
    mstack.items.append(("server", app, None))
    tun = make_tunnel(mstack, ttf_args=["--protocol", request.param], local=app)
    tun.seen, tun.lock = seen, lock
    return tun


@pytest.mark.parametrize("method,target,body,times", [
    ("POST", "/apply", b"", 1), ("PATCH", "/apply", b"", 1), ("LOCK", "/apply", b"", 1),
    ("GET", "/apply", b"", 2), ("DELETE", "/apply", b"", 2),
    ("get", "/apply", b"", 1), ("Get", "/apply", b"", 1), ("PURGE", "/apply", b"", 1),
    ("HEAD", "/apply", b"", 2), ("OPTIONS", "/apply", b"", 2),
    ("GET", "/with-body", b"abc", 1), ("PUT", "/with-body", b"x" * 70000, 1),
    ("GET", "/partial", b"", 1), ("HEAD", "/partial", b"", 1),
])
def test_a_stale_pooled_connection_retries_idempotent_requests_only(t, method, target, body, times):
    # /warm leaves an idle connection in ttf's pool; the app noticed nothing yet, so the next
    # request takes that connection
    assert tk.http(t.port, "GET", "/warm", t.host).status == 200
    target = "%s-%s" % (target, method)
    r = tk.http(t.port, method, target, t.host, body=body)
    assert r.status == 502, r.raw_head

    def applied():
        with t.lock:
            return t.seen[(method, target)]

    tk.wait_for(lambda: applied() >= times, 10, "the app to see %s %d times" % (method, times))
    # the 502 comes after the resend's failure, so the count is final; one more round trip
    assert tk.http(t.port, "GET", "/warm", t.host).status == 200
    assert applied() == times, "%s %s applied %d times" % (method, target, applied())
