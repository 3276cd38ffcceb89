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


def test_a_partial_client_hello_then_silence_is_closed_at_the_header_timeout(tls):
    d, _, certs = tls
    ctx = ssl.create_default_context(cafile=certs["ca"])
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="x." + DOMAIN)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    hello = out.read()
    s = socket.create_connection(("127.0.0.1", d.port), timeout=10 * tk.SLOW)
    try:
        t0 = time.monotonic()
        s.sendall(hello[:len(hello) // 2])
        out = read_all(s, 10)  # fails unless ttfd closes within 10 s
        took = time.monotonic() - t0
    finally:
        s.close()
    assert out == b"" and took >= 1.5, (out, took)


def test_a_request_in_the_same_flight_as_finished(tls):
    """TLS 1.3: the client's Finished and its request leave in one segment."""
    d, a, certs = tls
    ctx = ssl.create_default_context(cafile=certs["ca"])
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    name = "%s.%s" % (a.tunnel_id, DOMAIN)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=name)
    s = socket.create_connection(("127.0.0.1", d.port), timeout=10 * tk.SLOW)
    try:
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                s.sendall(out.read())
                b = s.recv(65536)
                assert b, "ttfd closed during the handshake"
                inc.write(b)
        obj.write(b"POST /raw-echo HTTP/1.1\r\nHost: %s:%d\r\nContent-Length: 4\r\n"
                  b"Connection: close\r\n\r\nsame" % (name.encode(), d.port))
        s.sendall(out.read())  # Finished + the request: one write
        got = b""
        while True:
            try:
                b = obj.read(65536)
            except ssl.SSLWantReadError:
                data = s.recv(65536)
                if not data:
                    break
                inc.write(data)
                continue
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
            if not b:
                break
            got += b
    finally:
        s.close()
    assert got.startswith(b"HTTP/1.1 200 ") and got.endswith(b"\r\n\r\nsame"), got
