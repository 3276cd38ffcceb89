# SPDX-License-Identifier: MIT
"""Inputs of issue 11's kinds (relay every message as its endpoints sent it), tried as a second
attacker, in both wire modes. Each case below failed before its fix:

- A status-line with an empty reason-phrase (`HTTP/1.1 299 ` or `HTTP/1.1 200` without the space,
  RFC 9112 §4: the reason is optional): binary mode put in a phrase of its own ("Unknown", "OK")
  while JSON mode kept it empty, so a client could tell the modes apart.
- A response in a transfer coding other than chunked (`Transfer-Encoding: gzip, chunked`, or
  `gzip` alone, read until close): the tunnel dropped the field (hop-by-hop) and de-chunked the
  body, so the client got gzip bytes as the content with nothing saying so. It is not decoded
  here: 502 naming the cause, as nginx answers ("upstream sent unknown Transfer-Encoding").
- Path mode: `Refresh: 0; url=/next` (followed by every browser, as a redirect) went out
  unprefixed, so the browser left the tunnel for the server's root; ttfd prefixed Location and
  Content-Location but the Lambda only Location. One rule in lib/path_rewrite for both back-ends,
  and the rewritten field keeps its place (it moved to the end of the head).

Third round:
- JSON mode held a response head until the first body octets arrived, so an event stream's
  client saw nothing (no status, no EventSource `open`) until the first event, and a head sent
  alone before a slow body waited with it; binary mode sends it at once. Now both do.
- `HTTP/1.2` in a request line got 505: RFC 9110 §2.5 says to process a higher minor version
  as the highest one we implement (1.1), as nginx and Go's net/http do.
- An h2c upgrade offer (`Connection: Upgrade, HTTP2-Settings` + `Upgrade: h2c`, what
  `curl --http2` sends on every http:// URL) got 501 in JSON mode; binary mode handed the app
  `Upgrade: h2c` without its HTTP2-Settings and closed the connection after the answer. Now
  the upgrade is ignored in both modes (RFC 9110 §7.8 lets a proxy; relaying it is h2c
  smuggling): the app's plain answer, on a connection that stays open.
- A local app whose response head ends its lines with a bare LF got 502 in both modes; RFC 9112
  §2.2 lets a recipient read them, and nginx, Go-based tunnels (ngrok, frp, cloudflared) and
  lighttpd (after a report of blank pages) relay such a head. ttf reads it from its own local
  service and sends it on with CRLF; requests and agents' heads stay strict.
"""

import gzip
import threading

import pytest

import scriptapp
import tunnelkit as tk
from conftest import make_tunnel

ZIPPED = gzip.compress(b"hello world " * 100)


def status_line(line):
    def handler(req, conn):
        conn.sendall(line + b"\r\nContent-Length: 2\r\n\r\nok")
        return True
    return handler


def gzip_chunked(req, conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
                 % (len(ZIPPED), ZIPPED))
    return True


def gzip_until_close(req, conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n" + ZIPPED)
    return False


def gzip_content(req, conn):
    """The same bytes as a content coding: relayed as they are, byte for byte."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"%x\r\n%s\r\n0\r\n\r\n" % (len(ZIPPED), ZIPPED))
    return True


def url_fields(req, conn):
    conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: /login?next=%2Fa\r\nX-After: 1\r\n"
                 b"Content-Location: /doc.json\r\nRefresh: 0; url=/next\r\n"
                 b"Content-Length: 0\r\n\r\n")
    return True


HEAD_SEEN = threading.Event()


def head_then_event(req, conn):
    """An event stream's head alone; its first event only once the client saw the head (or
    after 4 s, as "late": the head was held back)."""
    HEAD_SEEN.clear()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n")
    data = b"data: on time\n\n" if HEAD_SEEN.wait(4 * tk.SLOW) else b"data: late\n\n"
    conn.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))
    return True


def echo_line(req, conn):
    body = ("%s %s %s|%s" % (req.method, req.target, req.version,
                             ",".join(n for n, _ in req.headers))).encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    return True


def lf_only(req, conn):
    conn.sendall(b"HTTP/1.1 201 Made\nContent-Type: text/plain\nSet-Cookie: a=1\n"
                 b"Set-Cookie: b=2\nContent-Length: 2\n\nok")
    return True


ROUTES = {
    "/sse/head-first": head_then_event,
    "/lf-only": lf_only,
    "/line": echo_line,
    "/urls": url_fields,
    "/reason/299": status_line(b"HTTP/1.1 299 "),
    "/reason/200-nospace": status_line(b"HTTP/1.1 200"),
    "/reason/200-empty": status_line(b"HTTP/1.1 200 "),
    "/reason/404-own": status_line(b"HTTP/1.1 404 Nope Not Here"),
    "/te/gzip-chunked": gzip_chunked,
    "/te/gzip": gzip_until_close,
    "/ce/gzip": gzip_content,
}


@pytest.fixture(scope="module", params=["bin", "json"])
def t(request, mstack):
    app = scriptapp.ScriptApp(ROUTES)
    mstack.items.append(("server", app, None))
    args = ("--protocol", "json") if request.param == "json" else ()
    tun = make_tunnel(mstack, ttf_args=args, local=app)
    tun.app = app
    return tun


def status_line_of(t, path):
    c = tk.RawConn(t.port, timeout=10)
    try:
        c.send(tk.build_request("GET", path, t.host))
        raw = c.read_until(b"\r\n")
        c.read_until(b"\r\n\r\n")
        assert c.read_exact(2) == b"ok"
        return raw[:-2]
    finally:
        c.close()


@pytest.mark.parametrize("path,want", [
    ("/reason/299", b"HTTP/1.1 299 "),
    ("/reason/200-nospace", b"HTTP/1.1 200 "),
    ("/reason/200-empty", b"HTTP/1.1 200 "),
    ("/reason/404-own", b"HTTP/1.1 404 Nope Not Here"),
])
def test_reason_phrase_as_the_app_sent_it(t, path, want):
    assert status_line_of(t, path) == want


@pytest.mark.parametrize("path", ["/te/gzip-chunked", "/te/gzip"])
def test_transfer_coding_other_than_chunked_is_502_not_passed_on_undeclared(t, path):
    r = tk.http(t.port, "GET", path, t.host, timeout=10)
    assert r.status == 502, (r.status, r.head_lines, r.body[:80])
    assert b"transfer coding" in r.body
    assert r.get("Content-Encoding") is None
    # the tunnel goes on
    r = tk.http(t.port, "GET", "/ce/gzip", t.host, [("Accept-Encoding", "gzip")], timeout=10)
    assert r.status == 200
    assert r.get("Content-Encoding") == "gzip"
    assert r.body == ZIPPED


def test_path_mode_url_fields_prefixed_in_place(t):
    c = tk.RawConn(t.port, timeout=10)
    try:
        c.send(tk.build_request("GET", "/%s/urls" % t.id, t.phost))
        r = c.read_response()
    finally:
        c.close()
    assert r.status == 302
    p = "/" + t.id
    assert [(n, v) for n, v in r.head_lines if n != "Connection"][:5] == [
        ("Location", p + "/login?next=%2Fa"), ("X-After", "1"),
        ("Content-Location", p + "/doc.json"), ("Refresh", "0; url=%s/next" % p),
        ("Content-Length", "0")], r.head_lines
    # subdomain mode: nothing to prefix
    r = tk.http(t.port, "GET", "/urls", t.host, timeout=10)
    assert r.get("Refresh") == "0; url=/next" and r.get("Location") == "/login?next=%2Fa"


def test_a_head_sent_alone_reaches_the_client_at_once(t):
    c = tk.RawConn(t.port, timeout=10)
    try:
        c.send(tk.build_request("GET", "/sse/head-first", t.host))
        status, _, heads, _ = c.read_head()
        HEAD_SEEN.set()
        assert status == 200
        assert ("Content-Type", "text/event-stream") in heads
        size = int(c.read_until(b"\r\n"), 16)
        assert c.read_exact(size) == b"data: on time\n\n"
    finally:
        c.close()


def test_a_higher_minor_version_is_served_as_http11(t):
    c = tk.RawConn(t.port, timeout=10)
    try:
        for _ in range(2):  # persistent, as HTTP/1.1 is
            c.send(("GET /line?v=1.2 HTTP/1.2\r\nHost: %s\r\n\r\n" % t.host).encode())
            r = c.read_response()
            assert r.status == 200, (r.status, r.body)
            assert r.body.startswith(b"GET /line?v=1.2 HTTP/1.1|"), r.body
            assert r.get("Connection") != "close"
    finally:
        c.close()
    r = tk.http(t.port, "GET", "/line", t.host, timeout=10)
    assert r.status == 200
    c = tk.RawConn(t.port, timeout=10)
    try:  # another major version stays refused
        c.send(("GET /line HTTP/3.0\r\nHost: %s\r\n\r\n" % t.host).encode())
        assert c.read_response().status == 505
    finally:
        c.close()


@pytest.mark.parametrize("upgrade", ["h2c", "H2C"])
def test_an_h2c_offer_gets_the_plain_answer(t, upgrade):
    before = len(t.app.targets())
    c = tk.RawConn(t.port, timeout=10)
    try:
        c.send(("GET /line?h2c HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                "Upgrade: %s\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
                % (t.host, upgrade)).encode())
        r = c.read_response()
        assert r.status == 200, (r.status, r.body)
        names = r.body.split(b"|")[1].lower().split(b",")
        assert b"upgrade" not in names and b"http2-settings" not in names, r.body
        assert r.get("Connection") != "close" and r.get("Upgrade") is None
        c.send(tk.build_request("GET", "/line?again", t.host))  # the connection goes on
        assert c.read_response().body.startswith(b"GET /line?again HTTP/1.1|")
    finally:
        c.close()
    assert t.app.targets()[before:] == ["/line?h2c", "/line?again"]


def test_a_response_head_with_bare_lf_line_ends_is_relayed_with_crlf(t):
    c = tk.RawConn(t.port, timeout=10)
    try:
        for _ in range(2):  # the local connection is reused cleanly
            c.send(tk.build_request("GET", "/lf-only", t.host))
            r = c.read_response()
            assert r.status == 201 and r.reason == "Made", (r.status, r.body)
            assert b"\n\n" not in r.raw_head and r.raw_head.count(b"\n") == r.raw_head.count(b"\r\n")
            assert r.get("Content-Type") == "text/plain"
            assert r.get_all("Set-Cookie") == ["a=1", "b=2"]
            assert r.body == b"ok"
    finally:
        c.close()
