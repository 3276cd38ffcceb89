# SPDX-License-Identifier: MIT
"""ttfd --public-scheme: behind a TLS front proxy (https outside, plain http to ttfd) the URLs
agents print are https, without :443; X-Forwarded-Proto and the redirects ttf's --host-header
rewrite builds from it say https too. The default rule: https with --tls-cert, else http."""

import pytest

import tunnelkit as tk
from test_relay import RawApp, redirect_app


@pytest.mark.parametrize("args,scheme,suffix", [
    (("--public-port", "443", "--public-scheme", "https"), "https", ""),
    (("--public-port", "8443", "--public-scheme", "https"), "https", ":8443"),
    (("--public-port", "80", "--public-scheme", "http"), "http", ""),
    (("--public-port", "443"), "http", ":443"),  # the default: http without --tls-cert
])
def test_public_scheme_in_urls(stack, args, scheme, suffix):
    srv = stack.local()
    d = stack.ttfd("--domain", "tunnel.test", *args)
    a = stack.ttf(d.endpoint(), srv.port)
    assert a.url == "%s://%s.tunnel.test%s" % (scheme, a.tunnel_id, suffix)
    assert a.path_url == "%s://tunnel.test%s/%s" % (scheme, suffix, a.tunnel_id)


@pytest.mark.parametrize("mode", ["binary", "json"])
def test_public_scheme_reaches_forwarded_proto_and_redirects(stack, mode):
    app = RawApp(redirect_app)
    stack.items.append(("server", app, None))
    d = stack.ttfd("--domain", "tunnel.test", "--public-port", "443", "--public-scheme", "https")
    a = stack.ttf(d.endpoint(), app.port, "--protocol", mode, "--host-header", "rewrite")
    host = "%s.tunnel.test" % a.tunnel_id
    r = tk.http(d.port, "GET", "/docs", host)
    assert app.requests[-1].get(b"X-Forwarded-Proto") == b"https"
    assert r.status == 301, r.raw_head
    assert r.get("Location") == "https://%s/docs/" % host


def test_bad_public_scheme_is_refused():
    p = tk.run([tk.TTFD_BIN, "--listen", "127.0.0.1:0", "--public-scheme", "ftp"])
    assert p.returncode == 2 and "--public-scheme" in p.stderr, (p.returncode, p.stderr)


@pytest.mark.parametrize("mode", ["binary", "json"])
@pytest.mark.parametrize("trusted,sent,seen", [
    (True, b"http", b"http"),      # a front proxy that took plain http: the app sees http
    (True, b"HTTPS", b"https"),
    (True, None, b"https"),        # it sent none: the edge's scheme
    (True, b"gopher", b"https"),   # not a scheme of ours: the edge's
    (False, b"http", b"https"),    # a client that is no trusted proxy: its word is not taken
])
def test_a_trusted_front_proxy_sets_forwarded_proto(stack, mode, trusted, sent, seen):
    """ttfd --public-scheme https behind a front proxy that takes both http and https: with
    --trusted-proxy the proxy's own X-Forwarded-Proto reaches the app (nginx's
    set_real_ip_from); from any other peer the edge's scheme replaces it (every request was
    labelled https, so an app redirecting http to https looped)."""
    app = RawApp(redirect_app)
    stack.items.append(("server", app, None))
    trust = ("--trusted-proxy", "127.0.0.0/8") if trusted else ("--trusted-proxy", "192.0.2.0/24")
    d = stack.ttfd("--domain", "tunnel.test", "--public-port", "443", "--public-scheme", "https",
                   *trust)
    a = stack.ttf(d.endpoint(), app.port, "--protocol", mode, "--host-header", "rewrite")
    host = "%s.tunnel.test" % a.tunnel_id
    c = tk.RawConn(d.port)
    try:
        c.send(b"GET /docs HTTP/1.1\r\nHost: %s\r\n%sX-Forwarded-For: 198.51.100.7\r\n"
               b"X-Real-IP: 198.51.100.7\r\n\r\n"
               % (host.encode(), b"X-Forwarded-Proto: %s\r\n" % sent if sent else b""))
        r = c.read_response()
    finally:
        c.close()
    assert app.requests[-1].get(b"X-Forwarded-Proto") == seen
    assert app.requests[-1].get(b"X-Forwarded-For") == b"198.51.100.7, 127.0.0.1"
    # the proxy's other words on the client too (docs/protocol.md §4), no one else's
    assert app.requests[-1].get(b"X-Real-IP") == (b"198.51.100.7" if trusted else None)
    assert r.status == 301, r.raw_head
    assert r.get("Location") == "%s://%s/docs/" % (seen.decode(), host)
