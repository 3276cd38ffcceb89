# SPDX-License-Identifier: MIT
"""A public client that sends its FIN after its whole request (`curl -N` on a server-sent events
stream stopped with Ctrl-C, a browser tab closed during a long poll, `printf ... | nc -N`).

ttfd takes such a FIN as a half-close (HAProxy's default): the answer still goes out as it comes.
But once nothing went toward that client for --half-close-timeout (from its FIN, again from each
answer octet written), the exchange ends as a departure, as HAProxy's `timeout client-fin` ends
it: the agent is told (binary RESET cancel, JSON cancel), ttf closes its local connection, and
the request is logged 499 when no response head went out, else with its status. Before, an SSE
stream whose app stayed silent held the exchange, the agent's stream and the app's connection
until ttfd stopped, and a request still waiting for its head until --request-timeout (120 s).
Both wire modes, plain and TLS public listeners."""

import socket
import threading
import time

import pytest

import tunnelkit as tk
from test_client_leaves import (SOON, certs, client, mode,  # noqa: F401 (fixtures)
                                setup_tunnel)

HALF = 1  # --half-close-timeout, s


class App:
    """/events: an SSE head and one event, then silence. /silent: never answers. /interim: a
    103, then silence. /late: its answer 0.5 s after the request, then 4 more pieces 0.6 s
    apart (2.3 s in all: more than HALF, each gap less). Each notes ttf's end of its local
    connection (self.peers[route]) and holds until released or its connection fails."""

    def __init__(self):
        self.peers = {}
        self.release = threading.Event()

    def _hold(self, route, conn, data=b""):
        self.peers[route] = conn.getpeername()
        if data:
            conn.sendall(data)
        self.release.wait(60)
        return False

    def events(self, req, conn):
        return self._hold("events", conn, b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                          b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"
                          b"d\r\ndata: hello\n\n\r\n")

    def silent(self, req, conn):
        return self._hold("silent", conn)

    def interim(self, req, conn):
        return self._hold("interim", conn, b"HTTP/1.1 103 Early Hints\r\n"
                          b"Link: </style.css>; rel=preload\r\n\r\n")

    def late(self, req, conn):
        self.peers["late"] = conn.getpeername()
        time.sleep(0.5)
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\npiece\r\n")
        for _ in range(4):
            time.sleep(0.6)
            conn.sendall(b"5\r\npiece\r\n")
        conn.sendall(b"0\r\n\r\n")
        return True


def make_tunnel(stack, mode, tls=False, certs=None):
    """test_client_leaves' tunnel (--half-close-timeout HALF), its app given App's routes."""
    d, a, app, _, host, ctx = setup_tunnel(stack, mode, tls, certs,
                                           ["--half-close-timeout", str(HALF)])
    local = App()
    app.routes.update({"/events": local.events, "/silent": local.silent,
                       "/interim": local.interim, "/late": local.late})
    release = local.release
    stack.items.append(("server", type("R", (), {"close": lambda self: release.set()})(), None))
    s = client(d, host, ctx)
    stack.items.append(("server", s, None))
    return d, app, local, host, tk.RawConn(0, sock=s)


def shut_wr(c):
    """shutdown(SHUT_WR) on the TCP socket itself (an SSLSocket's own would drop its TLS
    state): the FIN, without close_notify."""
    socket.socket.shutdown(c.sock, socket.SHUT_WR)


def local_closed(app, local, route):
    """ttf's end of the app's connection for route is closed (told the stream ended)."""
    tk.wait_for(lambda: route in local.peers, SOON, "the request reaching the app")
    peer = local.peers[route]
    tk.wait_for(lambda: tk.tcp_state(peer, ("127.0.0.1", app.port)) != tk.TCP_ESTABLISHED, SOON,
                "ttf closing its local connection (the exchange ended)")


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_an_event_stream_whose_client_half_closes_ends_after_the_timeout(stack, certs, mode, tls):
    d, app, local, host, c = make_tunnel(stack, mode, tls, certs)
    c.send(b"GET /events HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n"
           % host.encode())
    c.read_until(b"data: hello\n\n\r\n")  # the head and the first event
    t0 = time.monotonic()
    shut_wr(c)
    local_closed(app, local, "events")
    took = time.monotonic() - t0
    assert took >= HALF * 0.9, "ended %.3f s after the FIN, before --half-close-timeout" % took
    d.proc.wait_line(r"GET /events 200 ", SOON, stream="err")
    assert c.read_to_eof() == b""  # ttfd's close, the stream cut short
    print("%s %s: local connection closed %.3f s after the client's FIN"
          % (mode, "tls" if tls else "plain", took))


@pytest.mark.parametrize("route", ["silent", "interim"])
def test_a_fin_while_waiting_for_the_head_is_499_after_the_timeout(stack, mode, route):
    """No head comes (nothing, or a 103 and then nothing): 499 once --half-close-timeout passed
    from the FIN (the 103 written before it), not at --request-timeout."""
    d, app, local, host, c = make_tunnel(stack, mode)
    c.send(b"GET /%s HTTP/1.1\r\nHost: %s\r\n\r\n" % (route.encode(), host.encode()))
    if route == "interim":
        c.read_until(b"\r\n\r\n")
    else:
        tk.wait_for(lambda: route in local.peers, SOON, "the request reaching the app")
    t0 = time.monotonic()
    shut_wr(c)
    d.proc.wait_line(r"GET /%s 499 " % route, SOON, stream="err")
    took = time.monotonic() - t0
    assert took >= HALF * 0.9, "499 %.3f s after the FIN, before --half-close-timeout" % took
    local_closed(app, local, route)
    assert c.read_to_eof() == b""


def test_a_half_closed_client_gets_a_late_slow_answer_whole(stack, mode):
    """The head 0.5 s after the FIN, the pieces 0.6 s apart: each resets the count, so the
    answer (2.3 s, more than --half-close-timeout) arrives whole."""
    d, app, local, host, c = make_tunnel(stack, mode)
    c.send(b"GET /late HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode())
    shut_wr(c)
    r = c.read_response()
    assert r.status == 200, r.raw_head
    assert r.body == b"piece" * 5
    assert c.read_to_eof() == b""
    d.proc.wait_line(r"GET /late 200 ", SOON, stream="err")


def test_pipelined_requests_then_a_fin(stack, mode):
    """Two requests, then the FIN: the first answered whole (late, in pieces), the second, never
    answered, 499 after --half-close-timeout counted from its own start."""
    d, app, local, host, c = make_tunnel(stack, mode)
    c.send(b"GET /late HTTP/1.1\r\nHost: %s\r\n\r\nGET /silent HTTP/1.1\r\nHost: %s\r\n\r\n"
           % (host.encode(), host.encode()))
    shut_wr(c)
    r = c.read_response()
    assert r.status == 200 and r.body == b"piece" * 5, r.raw_head
    d.proc.wait_line(r"GET /silent 499 ", SOON, stream="err")
    local_closed(app, local, "silent")
    assert c.read_to_eof() == b""
