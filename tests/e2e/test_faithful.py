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
"""

import gzip

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


ROUTES = {
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
