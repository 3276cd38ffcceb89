# SPDX-License-Identifier: MIT
"""TLS on both sides: ttfd with a certificate from a test CA, ttf over wss:// trusting the CA
with --ca-file, HTTPS public requests; a host-name mismatch and an unknown CA refused (stderr
says "certificate"); --insecure connects with a warning."""

import hashlib
import json
import re
import socket
import ssl
import time

import pytest

import pki
import tunnelkit as tk

DOMAIN = "tun.localhost"  # OpenSSL refuses one-label wildcards such as *.localhost


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca = pki.make_ca(d)
    good = pki.make_server_cert(d, ca, "good", ["localhost", DOMAIN, "*." + DOMAIN, "*.localhost"],
                                ["127.0.0.1"])
    bad = pki.make_server_cert(d, ca, "bad", ["other.example"])
    # The good certificate's names less one: the one ttf will use to reach the server.
    no_ip = pki.make_server_cert(d, ca, "no_ip", ["localhost", DOMAIN, "*." + DOMAIN, "*.localhost"])
    no_bare = pki.make_server_cert(d, ca, "no_bare", [DOMAIN, "*." + DOMAIN, "*.localhost"], ["127.0.0.1"])
    return {"ca": str(ca[2]), "good": [str(p) for p in good], "bad": [str(p) for p in bad],
            "no_ip": [str(p) for p in no_ip], "no_bare": [str(p) for p in no_bare]}


def tls_ttfd(stack, pair):
    return stack.ttfd("--domain", DOMAIN, "--tls-cert", pair[0], "--tls-key", pair[1])


def https(port, server_hostname, ca, method, target, host, body=b""):
    ctx = ssl.create_default_context(cafile=ca)
    raw = socket.create_connection(("127.0.0.1", port), timeout=20 * tk.SLOW)
    s = ctx.wrap_socket(raw, server_hostname=server_hostname)
    c = tk.RawConn(port, sock=s)
    try:
        return c.request(method, target, host, body=body)
    finally:
        c.close()


def test_tls_tunnel_with_ca_file(stack, certs):
    srv = stack.local()
    d = tls_ttfd(stack, certs["good"])
    assert (d.scheme, d.ws_scheme) == ("https", "wss")
    a = stack.ttf("wss://localhost:%d/_tunnel" % d.port, srv.port, "--ca-file", certs["ca"])
    assert a.url == "https://%s.%s:%d" % (a.tunnel_id, DOMAIN, d.port)
    assert a.path_url == "https://%s:%d/%s" % (DOMAIN, d.port, a.tunnel_id)
    host = "%s.%s:%d" % (a.tunnel_id, DOMAIN, d.port)
    body = bytes(range(256)) * 40
    r = https(d.port, "%s.%s" % (a.tunnel_id, DOMAIN), certs["ca"], "POST", "/tls?q=1", host, body)
    assert r.status == 200, r.raw_head
    doc = json.loads(r.body)
    assert doc["target"] == "/tls?q=1"
    assert [v for n, v in doc["headers"] if n.lower() == "x-forwarded-proto"] == ["https"]
    r = https(d.port, DOMAIN, certs["ca"], "GET", "/%s/p?x" % a.tunnel_id, "%s:%d" % (DOMAIN, d.port))
    assert r.status == 200 and json.loads(r.body)["target"] == "/p?x"
    r = https(d.port, "%s.%s" % (a.tunnel_id, DOMAIN), certs["ca"], "POST", "/raw-echo", host, body)
    assert r.body == body


def test_tls_websocket_through_https(stack, certs):
    from test_stream import ws_connect
    srv = stack.local()
    d = tls_ttfd(stack, certs["good"])
    a = stack.ttf("wss://localhost:%d/_tunnel" % d.port, srv.port, "--ca-file", certs["ca"])
    name = "%s.%s" % (a.tunnel_id, DOMAIN)
    ctx = ssl.create_default_context(cafile=certs["ca"])
    raw = socket.create_connection(("127.0.0.1", d.port), timeout=20 * tk.SLOW)
    c = ws_connect(d.port, "%s:%d" % (name, d.port),
                   conn=tk.RawConn(d.port, sock=ctx.wrap_socket(raw, server_hostname=name)))
    try:
        payload = bytes(range(256)) * 300
        c.send(tk.ws_frame(2, payload, mask=True))
        assert tk.ws_read_message(c.read_exact) == (2, False, payload)
    finally:
        c.close()


def test_tls_by_ip_address(stack, certs):
    srv = stack.local()
    d = tls_ttfd(stack, certs["good"])
    a = stack.ttf("wss://127.0.0.1:%d/_tunnel" % d.port, srv.port, "--ca-file", certs["ca"])
    assert a.tunnel_id


def not_established(stack, d, srv, endpoint, *args):
    """A certificate that does not verify is a failure retrying cannot fix: ttf says so and
    exits 1 (before its first tunnel; README "ttf options")."""
    a = stack.ttf(endpoint, srv.port, *args, wait=False, expect_rc=1)
    rc = a.proc.wait_exit(15)
    assert rc == 1, "ttf exit code %r after a TLS verification failure\n%s" % (rc, a.proc.describe())
    assert "certificate verification failed" in a.proc.stderr().lower(), a.proc.describe()
    assert "Tunnel established" not in a.proc.stdout()
    assert "reconnecting" not in a.proc.stderr().lower(), a.proc.describe()
    return a


def test_tls_hostname_mismatch_refused(stack, certs):
    srv = stack.local()
    d = tls_ttfd(stack, certs["bad"])
    not_established(stack, d, srv, "wss://localhost:%d/_tunnel" % d.port, "--ca-file", certs["ca"])


@pytest.mark.parametrize("cert,name", [
    ("no_ip", "127.0.0.1"),   # DNS names only, reached by IP address: no iPAddress entry matches
    ("no_bare", "localhost"),  # "*.localhost" must not match "localhost" (RFC 6125 §6.4.3)
])
def test_tls_name_not_in_cert_refused(stack, certs, cert, name):
    # A certificate from the trusted CA, reached through a name it does not carry.
    srv = stack.local()
    d = tls_ttfd(stack, certs[cert])
    not_established(stack, d, srv, "wss://%s:%d/_tunnel" % (name, d.port), "--ca-file", certs["ca"])


def test_tls_unknown_ca_refused(stack, certs):
    srv = stack.local()
    d = tls_ttfd(stack, certs["good"])
    not_established(stack, d, srv, "wss://localhost:%d/_tunnel" % d.port)


def test_tls_insecure_flag_warns_and_connects(stack, certs):
    srv = stack.local()
    d = tls_ttfd(stack, certs["bad"])
    a = stack.ttf("wss://localhost:%d/_tunnel" % d.port, srv.port, "--insecure")
    assert any(re.search(r" ttf WARN --insecure: the server certificate is NOT verified", line)
               for line in a.proc.stderr().splitlines()), a.proc.describe()


def test_tls_slow_client_gets_the_whole_download(stack, certs):
    """An HTTPS client that reads in bursts through a small receive buffer gets every byte of a
    40 MB download. Its socket fills while ttfd still has records gathered in its TLS write
    buffer; the write that later empties that buffer takes no plain text and must still count as
    the output draining, or the stream's window is never credited and the download stops for good
    (lib/conn_tls: it did when the client's socket path held less than the window)."""
    srv = stack.local()
    d = tls_ttfd(stack, certs["good"])
    a = stack.ttf("wss://localhost:%d/_tunnel" % d.port, srv.port, "--ca-file", certs["ca"])
    name = "%s.%s" % (a.tunnel_id, DOMAIN)
    n = 40 * tk.MB
    ctx = ssl.create_default_context(cafile=certs["ca"])
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    raw.settimeout(10 * tk.SLOW)  # no byte for this long: stalled
    raw.connect(("127.0.0.1", d.port))
    s = ctx.wrap_socket(raw, server_hostname=name)
    try:
        s.sendall(b"GET /download?n=%d HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n"
                  % (n, name.encode(), d.port))
        data, burst = bytearray(), 0
        while True:
            try:
                piece = s.recv(256 * 1024)
            except socket.timeout:
                pytest.fail("download stalled after %d bytes" % len(data))
            if not piece:
                break
            data += piece
            burst += len(piece)
            if burst >= tk.MB:  # a pause after each MiB: the socket fills meanwhile
                burst = 0
                time.sleep(0.05)
    finally:
        s.close()
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    assert len(body) == n
    assert hashlib.sha256(body).hexdigest() == tk.pattern_sha256(n)
