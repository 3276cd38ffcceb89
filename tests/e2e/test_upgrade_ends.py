# SPDX-License-Identifier: MIT
"""The ends of an upgraded connection (101, a WebSocket; binary mode: JSON answers 501).

Each side may end its half (shutdown(SHUT_WR): a FIN) and go on reading, as HAProxy relays a
tunnel: the FIN is forwarded to the other side, whose octets still flow. Once one side ended,
the other has --half-close-timeout of silence to end its own (HAProxy's `timeout client-fin` /
`server-fin`); an upgraded connection that carries nothing either way for --tunnel-timeout is
closed (HAProxy's `timeout tunnel`). Before: a client that half-closed while the local app never
closed held the connection, the stream and its agent's place for ever; a local app that
half-closed had the whole connection closed at once, the client's last octets dropped."""

import socket
import subprocess
import threading
import time

import pytest

import tunnelkit as tk
from scriptapp import ScriptApp

SOON = 5 * tk.SLOW
HEAD = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")


class Local:
    """/hold: 101, then reads the client's octets to their end, and never closes.
    /shut: 101, "bye", shutdown(SHUT_WR), then reads the client's octets to their end, then
    closes. Notes "<route>-eof" with what came (self.got) and ttf's end of the connection."""

    def __init__(self):
        self.got, self.peers = {}, {}
        self.release = threading.Event()

    def _read_all(self, conn):
        got = b""
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                break
            if not data:
                break
            got += data
        return got

    def hold(self, req, conn):
        self.peers["hold"] = conn.getpeername()
        conn.sendall(HEAD)
        self.got["hold"] = self._read_all(conn)
        self.app.note("hold-eof")
        self.release.wait(60)
        return False

    def shut(self, req, conn):
        self.peers["shut"] = conn.getpeername()
        conn.sendall(HEAD + b"bye")
        conn.shutdown(socket.SHUT_WR)
        self.got["shut"] = self._read_all(conn)
        self.app.note("shut-eof")
        return False


def make_tunnel(stack, *ttfd_args):
    local = Local()
    app = ScriptApp({"/hold": local.hold, "/shut": local.shut})
    local.app = app
    stack.items.append(("server", app, None))
    release = local.release
    stack.items.append(("server", type("R", (), {"close": lambda self: release.set()})(), None))
    d = stack.ttfd(*ttfd_args)
    a = stack.ttf(d.endpoint(), app.port, "--protocol", "binary")
    return d, app, local, tk.sub_host(d, a.tunnel_id)


def upgrade(d, host, path):
    c = tk.RawConn(d.port, timeout=20)
    c.send(b"GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
           % (path.encode(), host.encode()))
    head = c.read_until(b"\r\n\r\n")
    assert b" 101 " in head, head
    return c


def local_closed(d, app, local, route):
    """ttf's end of the local connection is closed (ttf was told the stream ended)."""
    peer, app_addr = local.peers[route], ("127.0.0.1", app.port)
    tk.wait_for(lambda: tk.tcp_state(peer, app_addr) not in (tk.TCP_ESTABLISHED, 8), SOON,
                "ttf closing its local connection")  # 8: CLOSE_WAIT, the app's FIN unanswered


def test_a_client_half_close_reaches_the_app_and_its_silence_is_bounded(stack):
    """The client sends, then ends its half; the app reads it all and the end, but never
    closes: the connection ends --half-close-timeout later (it stayed open for ever)."""
    d, app, local, host = make_tunnel(stack, "--half-close-timeout", "1")
    c = upgrade(d, host, "/hold")
    c.send(b"last words")
    t0 = time.monotonic()
    c.sock.shutdown(socket.SHUT_WR)
    app.wait_event("hold-eof", SOON)
    assert local.got["hold"] == b"last words"
    c.sock.settimeout(SOON)
    assert c.read_to_eof() == b""  # ttfd's close
    took = time.monotonic() - t0
    assert took >= 0.9, "closed %.3f s after the client's FIN, before --half-close-timeout" % took
    local_closed(d, app, local, "hold")
    print("client half-close: closed %.3f s after its FIN (--half-close-timeout 1)" % took)
    c.close()


def test_a_local_half_close_reaches_the_client_which_still_sends(stack):
    """The app sends "bye" and ends its half: the client reads "bye" and the end, and its own
    octets still reach the app, whose reading ends at the client's FIN (ttfd closed the whole
    connection at the app's FIN, the client's octets dropped)."""
    d, app, local, host = make_tunnel(stack)
    c = upgrade(d, host, "/shut")
    c.sock.settimeout(SOON)
    assert c.read_exact(3) == b"bye"
    assert c.sock.recv(10) == b""  # the app's FIN, forwarded
    c.send(b"after your end")
    c.sock.shutdown(socket.SHUT_WR)
    app.wait_event("shut-eof", SOON)
    assert local.got["shut"] == b"after your end"
    local_closed(d, app, local, "shut")
    c.close()


def test_a_local_half_close_then_a_silent_client_is_bounded(stack):
    d, app, local, host = make_tunnel(stack, "--half-close-timeout", "1", "--admin", "127.0.0.1:0")
    c = upgrade(d, host, "/shut")
    c.sock.settimeout(SOON)
    assert c.read_exact(3) == b"bye"
    assert c.sock.recv(10) == b""
    t0 = time.monotonic()
    app.wait_event("shut-eof", SOON)  # ttfd ended the stream: ttf closed the app's connection
    took = time.monotonic() - t0
    assert local.got["shut"] == b""
    local_closed(d, app, local, "shut")
    print("local half-close, silent client: closed %.3f s after the app's FIN" % took)
    c.close()


@pytest.mark.parametrize("moving", [False, True], ids=["idle", "moving"])
def test_an_idle_upgraded_connection_is_closed_at_the_tunnel_timeout(stack, moving):
    """Nothing either way for --tunnel-timeout: closed, the app's connection too. Octets every
    0.3 s keep it open past that."""
    d, app, local, host = make_tunnel(stack, "--tunnel-timeout", "1")
    c = upgrade(d, host, "/hold")
    c.sock.settimeout(SOON)
    if moving:
        for _ in range(8):  # 2.4 s of traffic
            c.send(b"x")
            time.sleep(0.3)
        assert local.peers.get("hold") and "hold" not in local.got, "closed while moving"
    t0 = time.monotonic()
    assert c.read_to_eof() == b""
    took = time.monotonic() - t0
    assert 0.5 <= took <= 1.5 + 2 * tk.SLOW, took
    local_closed(d, app, local, "hold")
    c.close()


def test_the_timeouts_are_checked():
    for bad in (["--tunnel-timeout", "-1"], ["--half-close-timeout", "x"]):
        p = subprocess.run([tk.TTFD_BIN] + bad, capture_output=True, text=True, timeout=10)
        assert p.returncode != 0
        assert "ttfd: bad %s" % bad[0] in p.stderr, p.stderr
