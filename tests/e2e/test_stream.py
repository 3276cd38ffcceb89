# SPDX-License-Identifier: MIT
"""Streaming through the binary-mode tunnel: server-sent events reach the client while the
stream is open, WebSocket echo through the public URL (both routing modes)."""

import base64
import os
import socket

import pytest

import tunnelkit as tk


def read_sse_event(conn, chunked):
    """Read the next SSE event (up to its blank line) from a RawConn, decoding chunks if needed.
    How the bytes were cut into chunks or reads is not the point (a proxy may split or join them):
    bytes after the event stay in conn.sse_rest for the next call."""
    data = getattr(conn, "sse_rest", b"")
    while b"\n\n" not in data:
        if chunked:
            size = int(conn.read_until(b"\r\n").split(b";")[0], 16)
            assert size > 0, "stream ended before an event was complete: %r" % data
            data += conn.read_exact(size)
            assert conn.read_exact(2) == b"\r\n"
        else:
            if not conn.buf:
                conn._fill()
            data += conn.buf
            conn.buf = b""
    ev, _, conn.sse_rest = data.partition(b"\n\n")
    return dict(line.split(": ", 1) for line in ev.decode().split("\n"))


@pytest.mark.parametrize("mode", ["chunked", "close"])
def test_sse_events_arrive_while_stream_open(tunnel, mode):
    st = tunnel.local.state
    st.sse_ack.clear()
    done_before = len(st.sse_results)
    # The client deadline for the first event is well below the server's wait (30 s).
    c = tk.RawConn(tunnel.port, timeout=10)
    try:
        c.send(tk.build_request("GET", "/sse?mode=%s" % mode, tunnel.host,
                                [("Accept", "text/event-stream")]))
        try:
            status, _, heads, raw = c.read_head()
            assert status == 200, raw
            chunked = any(n.lower() == "transfer-encoding" and "chunked" in v.lower() for n, v in heads)
            first = read_sse_event(c, chunked)
        except socket.timeout:
            pytest.fail("the response head and first SSE event did not reach the client while the "
                        "stream was open (the tunnel holds the response back)")
        ctype = [v for n, v in heads if n.lower() == "content-type"]
        assert ctype == ["text/event-stream"], raw
        assert first["data"] == "first"
        assert len(st.sse_results) == done_before, "server already finished the stream"
        st.sse_ack.set()
        second = read_sse_event(c, chunked)
        third = read_sse_event(c, chunked)
        assert (second["data"], third["data"]) == ("second", "third")
        assert getattr(c, "sse_rest", b"") == b"", "bytes after the last event: %r" % c.sse_rest
        if chunked:
            assert c.read_until(b"\r\n") == b"0\r\n"
        else:
            assert c.read_to_eof() == b""
        tk.wait_for(lambda: len(st.sse_results) > done_before, 5, "the SSE handler to finish")
        assert st.sse_results[-1] is True
    finally:
        st.sse_ack.set()
        c.close()


def ws_connect(port, host, target="/ws", conn=None):
    key = base64.b64encode(os.urandom(16)).decode()
    c = conn or tk.RawConn(port, timeout=20)
    c.send(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
            "Origin: http://%s\r\n\r\n" % (target, host, key, host)).encode())
    status, _, heads, raw = c.read_head()
    assert status == 101, "upgrade answered %d: %r" % (status, raw)
    h = {n.lower(): v for n, v in heads}
    assert h.get("upgrade", "").lower() == "websocket", raw
    assert "upgrade" in h.get("connection", "").lower(), raw
    assert h.get("sec-websocket-accept") == tk.ws_accept(key), raw
    return c


@pytest.mark.parametrize("routing", ["subdomain", "path"])
def test_websocket_echo(tunnel, routing):
    if routing == "subdomain":
        c = ws_connect(tunnel.port, tunnel.host)
    else:
        c = ws_connect(tunnel.port, tunnel.phost, "/%s/ws" % tunnel.id)
    try:
        msgs = [(1, "hello through the tunnel \u2713".encode()), (2, bytes(range(256))),
                (2, os.urandom(300_000)), (1, b"")]
        for op, payload in msgs:
            c.send(tk.ws_frame(op, payload, mask=True))
            rop, masked, data = tk.ws_read_message(c.read_exact)
            assert rop == op and not masked
            assert data == payload, "echo differs for a %d-byte message" % len(payload)
        c.send(tk.ws_frame(9, b"pingdata", mask=True))
        assert tk.ws_read_message(c.read_exact) == (10, False, b"pingdata")
        c.send(tk.ws_frame(8, b"\x03\xe8bye", mask=True))
        op, _, data = tk.ws_read_message(c.read_exact)
        assert op == 8 and data[:2] == b"\x03\xe8"
        # The local side closed: the public connection ends too.
        assert c.read_to_eof() == b""
    finally:
        c.close()


def test_websocket_many_small_messages_in_order(tunnel):
    c = ws_connect(tunnel.port, tunnel.host)
    try:
        n = 300
        for i in range(n):
            c.send(tk.ws_frame(1, b"msg %d" % i, mask=True))
        for i in range(n):
            op, _, data = tk.ws_read_message(c.read_exact)
            assert (op, data) == (1, b"msg %d" % i)
    finally:
        c.close()


def test_chunked_download_passes_unchanged(tunnel):
    """A chunked answer of 8 MiB (many flow-control windows) arrives whole and in order."""
    n = 8 * tk.MB
    c = tk.RawConn(tunnel.port, timeout=20)
    try:
        r = c.request("GET", "/download?n=%d&mode=chunked" % n, tunnel.host)
        assert r.status == 200 and r.body == b"".join(tk.pattern_chunks(n))
    finally:
        c.close()
