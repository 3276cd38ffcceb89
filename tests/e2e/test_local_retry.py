# SPDX-License-Identifier: MIT
"""ttf sends a request again on a fresh connection when the pooled keep-alive connection it used
ends before one octet of the answer (the local service closed it while idle). That is safe only
for idempotent methods (RFC 9110 §9.2.2): the service may have applied the request and closed
without answering, and "a proxy MUST NOT automatically retry non-idempotent requests" (RFC 9112
§9.3.1; nginx stopped retrying them in 1.9.13, Go's Transport retries only replayable requests).
A bodiless POST, PATCH or LOCK is applied once and answered 502; a GET or DELETE still gets its
second chance (which also proves the request went on a pooled connection)."""

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
        return False  # applied, then closed without an answer

    app = ScriptApp({"/": handler})
    mstack.items.append(("server", app, None))
    tun = make_tunnel(mstack, ttf_args=["--protocol", request.param], local=app)
    tun.seen, tun.lock = seen, lock
    return tun


@pytest.mark.parametrize("method,times", [
    ("POST", 1), ("PATCH", 1), ("LOCK", 1), ("GET", 2), ("DELETE", 2),
])
def test_a_stale_pooled_connection_retries_idempotent_requests_only(t, method, times):
    r = tk.http(t.port, "GET", "/warm", t.host)  # leaves an idle connection in ttf's pool
    assert r.status == 200
    # the app noticed nothing yet: the next request takes that connection
    target = "/apply-%s" % method
    r = tk.http(t.port, method, target, t.host)
    assert r.status == 502, r.raw_head

    def applied():
        with t.lock:
            return t.seen[(method, target)]

    tk.wait_for(lambda: applied() >= times, 10, "the app to see %s %d times" % (method, times))
    # the 502 comes after the retry's failure, so the count is final; one more round trip
    assert tk.http(t.port, "GET", "/warm", t.host).status == 200
    assert applied() == times, "%s %s applied %d times" % (method, target, applied())
