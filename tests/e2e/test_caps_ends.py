# SPDX-License-Identifier: MIT
"""ttfd's count of streams in progress (--max-streams) goes back to 0 however streams end: answered,
a client that closes or resets mid-request, 504 at --request-timeout, a 101 upgrade then close /
half-close / close frame (binary), an upload cut mid-body, 50 pipelined requests ended by a FIN,
HEAD / 204 / 304, the agent killed mid-request and mid-upgrade; a new agent then gets its
--max-streams requests at once (a leak would leave the server answering 503 for ever; attack6)."""

import re
import socket
import time
import urllib.request

import pytest

import tunnelkit as tk


def gauge(admin_port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % admin_port, timeout=10) as r:
        text = r.read().decode()
    m = re.search(r'^%s (\d+)$' % name, text, re.M)
    assert m, text
    return int(m.group(1))


def ws_upgrade(port, host, path="/ws"):
    c = tk.RawConn(port, timeout=10)
    c.send(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            % (path, host)).encode())
    head = c.read_until(b"\r\n\r\n")
    return c, head


@pytest.mark.parametrize("mode", ["binary", "json"])
def test_stream_count_returns_to_zero(stack, mode):
    srv = stack.local()
    d = stack.ttfd("--max-streams", "4", "--admin", "127.0.0.1:0", "--request-timeout", "1")
    a = stack.ttf(d.endpoint(), srv.port, "--protocol", mode)
    host = tk.sub_host(d, a.tunnel_id)
    hb = host.encode()
    # 1 plain
    assert tk.http(d.port, "GET", "/echo", host).status == 200
    # 2 cancel mid sleep
    for _ in range(3):
        c = tk.RawConn(d.port, timeout=10)
        c.send(b"GET /sleep?s=3 HTTP/1.1\r\nHost: %s\r\n\r\n" % hb)
        time.sleep(0.2)
        c.close()
    # 3 reset mid sleep
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", d.port))
        s.sendall(b"GET /sleep?s=3 HTTP/1.1\r\nHost: %s\r\n\r\n" % hb)
        time.sleep(0.2)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
    # 4 timeout (504)
    r = tk.http(d.port, "GET", "/sleep?s=3", host)
    assert r.status == 504, r.status
    # 5 ws then close, ws then half-close
    for how in ("close", "shut", "closeframe") if mode == "binary" else ():
        c, head = ws_upgrade(d.port, host)
        assert b" 101 " in head, head
        if how == "close":
            c.close()
        elif how == "shut":
            c.sock.shutdown(socket.SHUT_WR)
            time.sleep(0.3)
            c.close()
        else:
            c.send(tk.ws_frame(8, b"\x03\xe8", True))
            time.sleep(0.3)
            c.close()
    # 6 upload cut mid body
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", d.port))
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: %s\r\nContent-Length: 10000000\r\n\r\n" % hb + b"x" * 300000)
        time.sleep(0.2)
        s.close()
    # 7 pipelined with FIN
    s = socket.create_connection(("127.0.0.1", d.port))
    s.sendall((b"GET /echo HTTP/1.1\r\nHost: %s\r\n\r\n" % hb) * 50)
    s.shutdown(socket.SHUT_WR)
    data = b""
    s.settimeout(10)
    while True:
        x = s.recv(65536)
        if not x:
            break
        data += x
    assert data.count(b"HTTP/1.1 200") == 50, data.count(b"HTTP/1.1 200")
    s.close()
    # 8 HEAD, 204, 304
    assert tk.http(d.port, "HEAD", "/download?n=1000", host).status == 200
    assert tk.http(d.port, "GET", "/status/204", host).status == 204
    assert tk.http(d.port, "GET", "/status/304", host).status == 304
    # 9 agent killed mid-stream, agent reconnect
    c = tk.RawConn(d.port, timeout=10)
    c.send(b"GET /sleep?s=3 HTTP/1.1\r\nHost: %s\r\n\r\n" % hb)
    cw, head = ws_upgrade(d.port, host) if mode == "binary" else (tk.RawConn(d.port), b"")
    time.sleep(0.3)
    a.proc.kill()
    stack.expect(a.proc, None)
    r = c.read_response()
    assert r.status in (502, 503, 504), r.status
    c.close(); cw.close()
    tk.wait_for(lambda: gauge(d.admin_port, "ttfd_streams_open") == 0, 10 * tk.SLOW, "streams 0")
    a2 = stack.ttf(d.endpoint(), srv.port, "--protocol", mode)
    host2 = tk.sub_host(d, a2.tunnel_id)
    conns = []
    for _ in range(4):
        c = tk.RawConn(d.port, timeout=10)
        c.send(b"GET /sleep?s=0.5 HTTP/1.1\r\nHost: %s\r\n\r\n" % host2.encode())
        conns.append(c)
    for c in conns:
        assert c.read_response().status == 200
        c.close()
    tk.wait_for(lambda: gauge(d.admin_port, "ttfd_streams_open") == 0, 10 * tk.SLOW, "streams 0 again")
