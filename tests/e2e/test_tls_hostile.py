# SPDX-License-Identifier: MIT
"""ttfd's TLS port against clients that do not speak TLS as they should: plain HTTP sent to it
(a 400 naming the mistake, as nginx answers, never a silent close or a hang), a handshake
dribbled byte by byte (cut at --header-timeout, as nginx's client_header_timeout covers the
handshake), and TLS 1.2 / 1.3 clients whose records arrive one octet per TCP segment (the read
BIO in lib/conn_tls.c reassembles them).

Also clients that speak plain HTTP to ttfd's TLS port, or speak TLS slowly: a plain request
whose every octet is a TCP segment of its own (OpenSSL rejects the first 5 octets, a record
header, before the method's space came: "OPTIONS", "DELETE", "PATCH" are longer than that), a
method and no space at all, and a completed handshake whose keep-alive connection then idles
past --header-timeout (the idle limit, not the header deadline, applies between requests)."""

import socket
import ssl
import time

import pytest

import pki
import tunnelkit as tk

DOMAIN = "tun.localhost"
PLAIN_400 = b"The plain HTTP request was sent to HTTPS port"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca = pki.make_ca(d)
    good = pki.make_server_cert(d, ca, "good", ["localhost", DOMAIN, "*." + DOMAIN], ["127.0.0.1"])
    return {"ca": str(ca[2]), "good": [str(p) for p in good]}


@pytest.fixture(scope="module")
def tls(mstack, certs):
    srv = mstack.local()
    d = mstack.ttfd("--domain", DOMAIN, "--tls-cert", certs["good"][0], "--tls-key",
                    certs["good"][1], "--header-timeout", "2")
    a = mstack.ttf("wss://localhost:%d/_tunnel" % d.port, srv.port, "--ca-file", certs["ca"])
    return d, a, certs


def read_all(s, limit):
    """What the peer sends until it closes (or resets), within limit seconds (scaled)."""
    s.settimeout(limit * tk.SLOW)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return out
            out += b
    except ConnectionResetError:
        return out
    except socket.timeout:
        raise AssertionError("no close within %ss; got %r" % (limit * tk.SLOW, out[:200]))


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE", "OPTIONS", "M-SEARCH"])
def test_plain_http_to_the_tls_port_gets_a_400(tls, method):
    d, a, _ = tls
    s = socket.create_connection(("127.0.0.1", d.port), timeout=10 * tk.SLOW)
    try:
        host = "%s.%s:%d" % (a.tunnel_id, DOMAIN, d.port)
        s.sendall(("%s /x HTTP/1.1\r\nHost: %s\r\nContent-Length: 5\r\n\r\nhello"
                   % (method, host)).encode())
        out = read_all(s, 10)
    finally:
        s.close()
    assert out.startswith(b"HTTP/1.1 400 "), out
    assert PLAIN_400 in out and b"Connection: close\r\n" in out, out


def test_ws_endpoint_to_the_tls_port_stops_ttf_with_the_hint(stack, tls):
    d, _, _ = tls
    srv = stack.local()
    a = stack.ttf("ws://127.0.0.1:%d/_tunnel" % d.port, srv.port, wait=False, expect_rc=1)
    assert a.proc.wait_exit(15) == 1, a.proc.describe()
    assert "use a wss:// endpoint" in a.proc.stderr(), a.proc.describe()


def client_hello(certs):
    ctx = ssl.create_default_context(cafile=certs["ca"])
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="x." + DOMAIN)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


def test_a_dribbled_handshake_is_cut_at_the_header_timeout(tls):
    d, a, certs = tls
    hello = client_hello(certs)
    s = socket.create_connection(("127.0.0.1", d.port), timeout=10 * tk.SLOW)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t0 = time.monotonic()
    closed_at = None
    try:
        for i in range(len(hello)):  # 0.1 s a byte: ~50 s for the whole ClientHello
            try:
                s.send(hello[i:i + 1])
            except OSError:
                closed_at = time.monotonic()
                break
            s.setblocking(False)
            try:
                if s.recv(100) == b"":
                    closed_at = time.monotonic()
                    break
            except BlockingIOError:
                pass
            except ConnectionResetError:
                closed_at = time.monotonic()
                break
            finally:
                s.setblocking(True)
            assert time.monotonic() - t0 < 15 * tk.SLOW, \
                "the dribbled handshake was still open after %d bytes" % (i + 1)
            time.sleep(0.1)
    finally:
        s.close()
    assert closed_at is not None, "the whole ClientHello went through at 10 bytes a second"
    assert closed_at - t0 >= 1.5, "closed after %.1fs: before the 2 s header timeout" % (closed_at - t0)
    # the server is fine for everyone else
    r = tls_request(d, a, certs, None, b"after")
    assert r == b"after"


def read_tls_until_close(obj, more):
    """Application data from obj (an ssl.SSLObject) until the peer closes; more() is called when
    obj wants more input and returns False to stop."""
    got = b""
    while True:
        try:
            chunk = obj.read(65536)
        except ssl.SSLWantReadError:
            if not more():
                break
            continue
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            break
        if not chunk:
            break
        got += chunk
    return got


def tls_request(d, a, certs, version, body):
    """One POST through the tunnel whose every TLS octet goes out in a TCP segment of its own;
    returns the echoed body."""
    ctx = ssl.create_default_context(cafile=certs["ca"])
    if version:
        ctx.minimum_version = ctx.maximum_version = version
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    name = "%s.%s" % (a.tunnel_id, DOMAIN)
    obj = ctx.wrap_bio(inc, out, server_hostname=name)
    s = socket.create_connection(("127.0.0.1", d.port), timeout=20 * tk.SLOW)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def flush():
        data = out.read()
        for i in range(len(data)):
            s.sendall(data[i:i + 1])

    def pump():
        b = s.recv(65536)
        assert b, "ttfd closed the connection"
        inc.write(b)

    try:
        while True:
            try:
                obj.do_handshake()
                flush()
                break
            except ssl.SSLWantReadError:
                flush()
                pump()
        obj.write(b"POST /raw-echo HTTP/1.1\r\nHost: %s:%d\r\nContent-Length: %d\r\n"
                  b"Connection: close\r\n\r\n%s" % (name.encode(), d.port, len(body), body))
        flush()
        def more():
            flush()
            try:
                pump()
            except AssertionError:
                return False
            return True

        got = read_tls_until_close(obj, more)
    finally:
        s.close()
    head, _, rest = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    return rest


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_records_one_octet_per_segment(tls, version):
    d, a, certs = tls
    body = bytes(range(256)) * 20  # 5 KiB: ~5,000 segments
    assert tls_request(d, a, certs, version, body) == body


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
        def more():
            data = s.recv(65536)
            inc.write(data)
            return bool(data)

        got = read_tls_until_close(obj, more)
    finally:
        s.close()
    assert got.startswith(b"HTTP/1.1 200 ") and got.endswith(b"\r\n\r\nsame"), got
