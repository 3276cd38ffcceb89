# SPDX-License-Identifier: MIT
"""Path mode (http://host/<tunnel-id>/...): a body ttfd rewrites (HTML, CSS, JSON) changes length
and bytes, so the fields of every answer about it must say so, with or without the body
(docs/protocol.md §4): HEAD gets the fields GET gets (RFC 9110 §9.3.2: no Content-Length of the
app's body), the app's strong ETag becomes weak in both (the bytes are not the app's), and a 206
(a range of the app's bytes) passes unchanged instead of a rewritten slice under the app's
Content-Range."""

import pytest

import tunnelkit as tk
from test_relay import MODES, RawApp, answer

BODY = b'{"servers":[{"url":"/api/v1"}],"link":"/api/x"}\n'  # rewritten in path mode


def app_json(app, c, req):
    fields = [b"Content-Type: application/json", b'ETag: "v1"', b"Content-MD5: abc=",
              b"Content-Length: %d" % len(BODY)]
    rng = req.get(b"Range")
    if rng == b"bytes=0-9":
        answer(c, b"HTTP/1.1 206 Partial Content",
               [b"Content-Type: application/json", b'ETag: "v1"',
                b"Content-Range: bytes 0-9/%d" % len(BODY), b"Content-Length: 10"], BODY[:10])
    elif req.get(b"If-None-Match"):
        answer(c, b"HTTP/1.1 304 Not Modified", [b'ETag: "v1"'])
    elif req.method == b"HEAD":
        answer(c, b"HTTP/1.1 200 OK", fields)
    else:
        answer(c, b"HTTP/1.1 200 OK", fields, BODY)
    return True


@pytest.fixture(params=MODES)
def path_tunnel(request, stack):
    app = RawApp(app_json)
    stack.items.append(("server", app, None))
    d = stack.ttfd()
    a = stack.ttf(d.endpoint(), app.port, "--protocol", request.param)
    return d, tk.path_host(d), "/" + a.tunnel_id + "/data.json", app


def test_head_fields_are_those_of_get(path_tunnel):
    d, host, target, _ = path_tunnel
    g = tk.http(d.port, "GET", target, host)
    assert g.status == 200, g.raw_head
    assert g.body != BODY and len(g.body) != len(BODY), g.body
    assert g.get("Content-Length") in (None, str(len(g.body))), g.raw_head
    h = tk.http(d.port, "HEAD", target, host)
    assert h.status == 200, h.raw_head
    assert h.body == b""
    # HEAD never announces the app's length when GET's body has another one
    assert h.get("Content-Length") in (None, str(len(g.body))), h.raw_head
    for name in ("ETag", "Content-MD5", "X-Tunnel-Rewrite-Applied"):
        assert h.get(name) == g.get(name), (name, g.raw_head, h.raw_head)
    assert g.get("ETag") == 'W/"v1"', g.raw_head
    assert g.get("Content-MD5") is None, g.raw_head
    assert g.get("X-Tunnel-Rewrite-Applied") == "true", g.raw_head


def test_304_validator_matches_the_rewritten_200(path_tunnel):
    d, host, target, _ = path_tunnel
    r = tk.http(d.port, "GET", target, host, headers=[("If-None-Match", 'W/"v1"')])
    assert r.status == 304, r.raw_head
    assert r.get("ETag") == 'W/"v1"', r.raw_head


def test_range_is_never_a_rewritten_slice(path_tunnel):
    d, host, target, _ = path_tunnel
    r = tk.http(d.port, "GET", target, host, headers=[("Range", "bytes=0-9")])
    assert r.status == 206, r.raw_head
    # the app's bytes under the app's Content-Range and strong ETag: not the rewritten body's
    assert r.body == BODY[:10], (r.raw_head, r.body)
    assert r.get("Content-Range") == "bytes 0-9/%d" % len(BODY)
    assert r.get("ETag") == '"v1"' and r.get("X-Tunnel-Rewrite-Applied") is None, r.raw_head


@pytest.mark.parametrize("method", ["HEAD", "GET"])
def test_ttfd_s_own_answers_to_head_have_no_body(stack, method):
    """ttfd's own answers (lib/edge_answer: tunnel not found, ...) to a HEAD request carry GET's
    fields and no content (RFC 9110 §9.3.2); it sent "tunnel not found\\n" after the head, bytes a
    client on the connection reads as the start of the next response."""
    import socket
    d = stack.ttfd()
    s = socket.create_connection(("127.0.0.1", d.port), timeout=10 * tk.SLOW)
    try:
        s.sendall(b"%s / HTTP/1.1\r\nHost: nosuch.%s\r\n\r\n" % (method.encode(),
                                                                   tk.sub_host(d, "x")
                                                                   .split(".", 1)[1].encode()))
        raw = tk.RawConn(0, sock=s).read_to_eof()
    finally:
        s.close()
    head, sep, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404 "), raw
    assert b"\r\nContent-Length: 17" in head, raw
    assert body == (b"" if method == "HEAD" else b"tunnel not found\n"), raw


def app_scripts(app, c, req):
    allowed = {b"/swa-root": b"/", b"/swa-app": b"/app/", b"/swa-url": b"https://evil.example/",
               b"/swa-up": b"/../..", b"/swa-enc": b"/app/%2E%2e/.%2e/"}
    v = allowed.get(req.target.split(b"?")[0])
    fields = [b"Content-Type: text/javascript; charset=utf-8", b"Content-Length: 2"]
    if v is not None:
        fields = [b"Content-Type: text/plain", b"Service-Worker-Allowed: " + v,
                  b"Content-Length: 2"]
    answer(c, b"HTTP/1.1 200 OK", fields, b"//")
    return True


@pytest.mark.parametrize("mode", MODES)
def test_a_service_worker_stays_inside_its_tunnel(stack, mode):
    """Path routing gives every tunnel one origin. A script served at /<id> (whose directory is
    /) or allowed "/" by its app could register a service worker over the whole origin and
    control every tunnel's pages in that browser for good (before: nothing stopped either). A
    script answer gets Service-Worker-Allowed "/<id>/"; an app's own path value goes under it;
    subdomain routing (an origin of its own) is unchanged. A value with dot segments ("/../..",
    "%2e%2e") gets the prefix alone (before: "/<id>/../..", which a browser resolves to "/")."""
    app = RawApp(app_scripts)
    stack.items.append(("server", app, None))
    d = stack.ttfd()
    a = stack.ttf(d.endpoint(), app.port, "--protocol", mode)
    tid = a.tunnel_id
    want = {"": "/%s/" % tid, "?sw": "/%s/" % tid, "/sw.js": "/%s/" % tid,
            "/swa-root": "/%s/" % tid, "/swa-app": "/%s/app/" % tid, "/swa-url": "/%s/" % tid,
            # dot segments a browser resolves ("/<id>/../.." is "/"): the prefix alone
            "/swa-up": "/%s/" % tid, "/swa-enc": "/%s/" % tid}
    for target, value in want.items():
        r = tk.http(d.port, "GET", "/" + tid + target, tk.path_host(d))
        assert r.status == 200 and r.get_all("Service-Worker-Allowed") == [value], (target, r.raw_head)
    r = tk.http(d.port, "GET", "/sw.js", tk.sub_host(d, tid))
    assert r.status == 200 and r.get("Service-Worker-Allowed") is None, r.raw_head
    r = tk.http(d.port, "GET", "/swa-root", tk.sub_host(d, tid))
    assert r.get_all("Service-Worker-Allowed") == ["/"], r.raw_head
