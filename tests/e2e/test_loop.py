# SPDX-License-Identifier: MIT
"""A tunnel whose local service is ttfd's own public listener (`ttfd --listen 127.0.0.1:8080`,
`ttf -p 8080`, Host passed on as it came) sent every public request round the tunnel again
until the stream caps were hit: a denial of service the user did to themselves, with confusing
errors. ttfd now marks what it forwards with CDN-Loop (RFC 8586) naming itself for that tunnel
and answers a request that comes back with its own mark 508 Loop Detected (RFC 5842 §7.2),
logged once with the reason. Other CDN-Loop members pass and stay; a chain through two tunnels
of one ttfd is no loop."""

import json
import re

import pytest

import tunnelkit as tk

LOOP_TEXT = b"request loop: the tunnel's local service sends requests back to this tunnel\n"
MARK = r"http-tunnel-[0-9a-f]{16}"


def _marks(value):
    return [m.split(";")[0].strip() for m in value.split(",")] if value else []


@pytest.mark.parametrize("mode", ["binary", "json"])
def test_tunnel_to_its_own_edge_is_508_once(stack, mode):
    d = stack.ttfd()
    args = ("--protocol", "json") if mode == "json" else ()
    a = stack.ttf(d.endpoint(), d.port, "--no-inspect", *args)
    host = tk.sub_host(d, a.tunnel_id)
    r = tk.http(d.port, "GET", "/x?y=1", host, headers=[("CDN-Loop", "other-cdn; v=1")])
    assert r.status == 508, (r.status, r.body)
    assert r.body == LOOP_TEXT, r.body
    assert r.get("Cache-Control") == "no-store"
    # one pass through the tunnel, then refused: ttfd logs the loop once, ttf saw one request
    d.proc.wait_line(r"GET /x\?y=1 .*508.*loop", 10, stream="err")
    a.proc.wait_line(r"GET /x\?y=1 -> 508 ", 10, stream="err")
    assert sum("loop" in ln for ln in d.proc.err_lines) == 1, d.proc.err_lines
    assert sum(" -> " in ln for ln in a.proc.err_lines) == 1, a.proc.err_lines
    # path routing strips one prefix a pass: a path that names the tunnel again loops too
    r = tk.http(d.port, "GET", "/%s/%s/p" % (a.tunnel_id, a.tunnel_id), tk.path_host(d))
    assert r.status == 508, (r.status, r.body)


def test_app_sees_the_mark_appended_and_a_chain_passes(stack):
    srv = stack.local()
    d = stack.ttfd()
    a = stack.ttf(d.endpoint(), srv.port, "--no-inspect")
    # b's local service is ttfd itself: requests to b go on to a (Host rewritten to a's)
    b = stack.ttf(d.endpoint(), d.port, "--no-inspect", "--host-header", tk.sub_host(d, a.tunnel_id))
    r = tk.http(d.port, "GET", "/echo", tk.sub_host(d, b.tunnel_id),
                headers=[("CDN-Loop", "other-cdn; v=1, fastly"), ("CDN-Loop", "akamai")])
    assert r.status == 200, (r.status, r.body)
    seen = [v for n, v in json.loads(r.body)["headers"] if n.lower() == "cdn-loop"]
    marks = _marks(", ".join(seen))
    assert marks[:3] == ["other-cdn", "fastly", "akamai"], seen
    assert len(marks) == 5 and all(re.fullmatch(MARK, m) for m in marks[3:]), seen
    assert marks[3] != marks[4], "one mark per tunnel: a chain through two is no loop"
    # a client guessing or copying a mark only gets its own request refused
    r = tk.http(d.port, "GET", "/echo", tk.sub_host(d, a.tunnel_id),
                headers=[("CDN-Loop", marks[4])])
    assert r.status == 508, (r.status, r.body)
    r = tk.http(d.port, "GET", "/echo", tk.sub_host(d, a.tunnel_id))
    assert r.status == 200, (r.status, r.body)


@pytest.mark.parametrize("mode", ["binary", "json"])
def test_other_requests_that_loop(stack, mode):
    """A body, an upgrade, HTTP/1.0, and a loop through two ttfd processes (A's tunnel to B's
    listener, B's tunnel back to A's): each ends at the second pass through its tunnel."""
    d = stack.ttfd()
    args = ("--protocol", "json") if mode == "json" else ()
    a = stack.ttf(d.endpoint(), d.port, "--no-inspect", *args)
    host = tk.sub_host(d, a.tunnel_id)
    r = tk.http(d.port, "POST", "/form", host, body=b"x" * 100000)
    assert r.status == 508, (r.status, r.body)
    r = tk.http(d.port, "POST", "/form", host, body=b"abc", chunked=True)
    assert r.status == 508, (r.status, r.body)
    c = tk.RawConn(d.port)
    try:
        c.send(b"GET /old HTTP/1.0\r\nHost: %s\r\n\r\n" % host.encode())
        assert c.read_response().status == 508
    finally:
        c.close()
    if mode == "binary":
        c = tk.RawConn(d.port)
        try:
            r = c.request("GET", "/ws", host, headers=[
                ("Connection", "Upgrade"), ("Upgrade", "websocket"),
                ("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")])
            assert r.status == 508, (r.status, r.body)
        finally:
            c.close()
    # two edges: d's tunnel "out" goes to e's listener as e's tunnel "back", which goes to d's
    # listener as "out" again: the loop ends at d, the first edge it passes twice
    e = stack.ttfd()
    stack.ttf(e.endpoint(), d.port, "--no-inspect", "--subdomain", "back", "--host-header",
              "out.localhost:%d" % d.port, *args)
    stack.ttf(d.endpoint(), e.port, "--no-inspect", "--subdomain", "out", "--host-header",
              "back.localhost:%d" % e.port, *args)
    r = tk.http(d.port, "GET", "/round", "out.localhost:%d" % d.port)
    assert r.status == 508, (r.status, r.body)
    d.proc.wait_line(r"GET /round 508 .*refused: loop", 10, stream="err")
    assert not any("/round" in ln and "loop" in ln for ln in e.proc.err_lines)
