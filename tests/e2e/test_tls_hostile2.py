# SPDX-License-Identifier: MIT
"""More clients that speak plain HTTP to ttfd's TLS port, or speak TLS slowly: a plain request
whose every octet is a TCP segment of its own (OpenSSL rejects the first 5 octets, a record
header, before the method's space came: "OPTIONS", "DELETE", "PATCH" are longer than that), a
method and no space at all, and a completed handshake whose keep-alive connection then idles
past --header-timeout (the idle limit, not the header deadline, applies between requests)."""

import socket
import ssl
import time

import pytest

import tunnelkit as tk
from test_tls_hostile import DOMAIN, PLAIN_400, certs, read_all, tls  # noqa: F401  (fixtures)


def dribble(s, data):
    for i in range(len(data)):
        try:
            s.send(data[i:i + 1])
        except OSError:
            return  # closed early: what came back is checked
        time.sleep(0.002)


@pytest.mark.parametrize("method", ["GET", "OPTIONS", "DELETE", "PATCH", "PROPFIND"])
def test_plain_http_one_octet_per_segment_gets_the_400(tls, method):
    d, a, _ = tls
    s = socket.create_connection(("127.0.0.1", d.port), timeout=10 * tk.SLOW)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        host = "%s.%s:%d" % (a.tunnel_id, DOMAIN, d.port)
        dribble(s, ("%s /x HTTP/1.1\r\nHost: %s\r\n\r\n" % (method, host)).encode())
        out = read_all(s, 10)
    finally:
        s.close()
    assert out.startswith(b"HTTP/1.1 400 ") and PLAIN_400 in out, out


@pytest.mark.parametrize("first", [b"GET\r\n\r\n", b"PATCH\r\n\r\n"])
def test_a_method_and_no_space_gets_the_400(tls, first):
    d, _, _ = tls
    s = socket.create_connection(("127.0.0.1", d.port), timeout=10 * tk.SLOW)
    try:
        s.sendall(first)
        out = read_all(s, 10)
    finally:
        s.close()
    assert out.startswith(b"HTTP/1.1 400 ") and PLAIN_400 in out, out


def test_an_idle_keep_alive_tls_connection_outlives_the_header_timeout(tls):
    d, a, certs = tls
    ctx = ssl.create_default_context(cafile=certs["ca"])
    name = "%s.%s" % (a.tunnel_id, DOMAIN)
    raw = socket.create_connection(("127.0.0.1", d.port), timeout=10 * tk.SLOW)
    s = ctx.wrap_socket(raw, server_hostname=name)
    try:
        req = b"POST /raw-echo HTTP/1.1\r\nHost: %s:%d\r\nContent-Length: 3\r\n\r\n" % (
            name.encode(), d.port)
        s.sendall(req + b"one")
        c = tk.RawConn(d.port, sock=s)
        status, _, _, _ = c.read_head()
        assert status == 200
        assert c.read_exact(3) == b"one"
        time.sleep(3.5)  # past the 2 s --header-timeout: the connection is idle, not in a head
        s.sendall(req + b"two")
        status, _, _, _ = c.read_head()
        assert status == 200
        assert c.read_exact(3) == b"two"
    finally:
        s.close()
