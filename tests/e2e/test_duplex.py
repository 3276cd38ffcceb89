# SPDX-License-Identifier: MIT
"""A response head before the whole request body: the local service answers 200 at once (Node's
res.flushHeaders(), a progress stream) and reads the upload afterwards, or echoes each piece of a
chunked upload as it comes (HTTP/1.1 carries both directions at once). The body must go on
reaching the service after the head went out: ttfd used to drop the rest of the upload once a
response head came, so the service waited for bytes that never came and the client hung."""

import hashlib
import socket

import pytest

import tunnelkit as tk
from conftest import make_tunnel
from scriptapp import ScriptApp


def chunks(req, conn):
    """The data of each chunk of a chunked request body as it arrives (the trailer section read and
    dropped after the last chunk)."""
    while True:
        n = int(ScriptApp._line(conn, req.buf).split(b";")[0], 16)
        if n == 0:
            while ScriptApp._line(conn, req.buf):
                pass
            return
        data = ScriptApp._exact(conn, req.buf, n)
        ScriptApp._line(conn, req.buf)
        yield data


def flush_then_read(req, conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    if req.get("Content-Length") is not None:
        body = ScriptApp._exact(conn, req.buf, int(req.get("Content-Length")))
    else:
        body = b"".join(chunks(req, conn))
    digest = hashlib.sha256(body).hexdigest().encode()
    conn.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(digest), digest))
    return True


flush_then_read.streams_body = True


def echo_pieces(req, conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    for data in chunks(req, conn):
        conn.sendall(b"%x\r\n%s\r\n" % (len(data), data.upper()))
    conn.sendall(b"0\r\n\r\n")
    return True


echo_pieces.streams_body = True


@pytest.fixture(scope="module", params=["binary", "json"])
def t(request, mstack):
    app = ScriptApp({"/flush": flush_then_read, "/echo": echo_pieces})
    mstack.items.append(("server", app, None))
    return make_tunnel(mstack, ttf_args=["--protocol", request.param], local=app)


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_head_flushed_before_the_upload_is_read(t, chunked):
    body = b"".join(tk.pattern_chunks(3 * tk.MB + 1))  # more than any window or buffer holds
    r = tk.http(t.port, "POST", "/flush", t.host, body=body, chunked=chunked, timeout=30)
    assert r.status == 200, r.raw_head
    assert r.body == hashlib.sha256(body).hexdigest().encode()


def test_each_piece_echoed_while_the_upload_goes_on(t):
    s = socket.create_connection(("127.0.0.1", t.port), timeout=20 * tk.SLOW)
    c = tk.RawConn(t.port, sock=s)
    try:
        c.send(b"POST /echo HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
               % t.host.encode())
        status, _, _, _ = c.read_head()
        assert status == 200
        for i in range(20):
            piece = b"piece-%d-" % i + b"x" * (i * 997)
            c.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            # the answer to this piece comes before the next piece is sent
            size = int(c.read_until(b"\r\n").split(b";")[0], 16)
            assert c.read_exact(size + 2) == piece.upper() + b"\r\n"
        c.send(b"0\r\n\r\n")
        assert c.read_until(b"\r\n\r\n") == b"0\r\n\r\n"
    finally:
        c.close()
