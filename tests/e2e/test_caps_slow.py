# SPDX-License-Identifier: MIT
"""ttfd --max-connections against slow clients: slowloris heads and dribbled TLS handshakes.

Connections that sent half a request head (or the first octets of a TLS ClientHello) and then
nothing counted like live ones: once they filled --max-connections accepting stopped, and an
agent connecting (or reconnecting) waited in the kernel's queue until --header-timeout closed
them, every tunnel of the agents still to come dark meanwhile. Now, at the cap, ttfd closes the
connections that have waited longest for their head (a head or handshake under way for a second
or more, or idle ones that sent nothing), so that a newcomer that sends its head at once, an agent
or a client, gets in; requests in progress (a body still uploading too) and agents' sessions are
never closed so (pconn_make_room in server/pconn.h)."""

import re
import socket
import ssl
import threading
import time
import urllib.request

import pytest

import tunnelkit as tk
from scriptapp import ScriptApp
from test_caps import app_with_holds, closed_by_peer

HEADER_TIMEOUT = 30  # s: what the slow ones held the cap for before
AGENT_BOUND = 3.0  # s: an agent at a cap full of slow ones (1 s grace + 250 ms retries + start)
CAP = 32
FLOOD = 48  # 29 of them fill the cap (with the agent and two requests), 19 wait in the queue
HALF_HEAD = b"GET / HTTP/1.1\r\nHost: slow.localhost\r\nX-Slow: "
# a TLS record header announcing 512 octets of handshake, then the start of a ClientHello
HALF_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x07" * 9


class Side:
    """How the test reaches ttfd: plain TCP on 127.0.0.1 or ::1, or TLS with a test CA."""

    def __init__(self, stack, tmp_path, kind, app, extra=()):
        self.kind = kind
        self.ip = "::1" if kind == "ipv6" else "127.0.0.1"
        args = ["--max-connections", str(CAP), "--header-timeout", str(HEADER_TIMEOUT),
                "--admin", "127.0.0.1:0"] + list(extra)
        agent_args = []
        self.domain = "localhost"
        self.ctx = None
        if kind == "tls":
            import pki
            ca = pki.make_ca(tmp_path)
            cert, key = pki.make_server_cert(tmp_path, ca, "srv", [
                "localhost", "tun.localhost", "*.tun.localhost"], ["127.0.0.1"])
            self.domain = "tun.localhost"
            args += ["--domain", self.domain, "--tls-cert", str(cert), "--tls-key", str(key)]
            agent_args = ["--ca-file", str(ca[2])]
            self.ctx = ssl.create_default_context(cafile=str(ca[2]))
        listen = "[::1]:0" if kind == "ipv6" else "127.0.0.1:0"
        self.d = stack.ttfd(*args, listen=listen)
        self.stack, self.app, self.agent_args = stack, app, agent_args

    def endpoint(self):
        if self.kind == "tls":
            return "wss://localhost:%d/_tunnel" % self.d.port
        return self.d.endpoint()

    def agent(self, wait=True):
        return self.stack.ttf(self.endpoint(), self.app.port, *self.agent_args, wait=wait)

    def host(self, agent):
        return "%s.%s:%d" % (agent.tunnel_id, self.domain, self.d.port)

    def dial(self, host="slow.localhost"):
        s = socket.create_connection((self.ip, self.d.port), timeout=10 * tk.SLOW)
        if self.ctx:
            s = self.ctx.wrap_socket(s, server_hostname=host.partition(":")[0])
        return s

    def client(self, agent):
        return tk.RawConn(self.d.port, sock=self.dial(self.host(agent)), timeout=10)

    def slow(self):
        """A connection that sent half a head (or half a ClientHello), then nothing."""
        s = socket.create_connection((self.ip, self.d.port), timeout=10 * tk.SLOW)
        s.sendall(HALF_HELLO if self.ctx else HALF_HEAD)
        return s


def metric(admin_port, pattern):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % admin_port,
                                timeout=10 * tk.SLOW) as r:
        m = re.search(pattern, r.read().decode(), re.M)
    assert m, pattern
    return int(m.group(1))


@pytest.mark.parametrize("kind", ["plain", "tls", "ipv6"])
def test_slow_heads_at_the_cap_do_not_lock_out_an_agent(stack, tmp_path, kind):
    app, holds = app_with_holds(stack)
    side = Side(stack, tmp_path, kind, app)
    d = side.d
    a = side.agent()
    host = side.host(a)
    # live ones before the flood: a request waiting for its answer, an upload half sent
    held = side.client(a)
    held.send(b"GET /hold?0 HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode())
    upload = side.client(a)
    upload.send(b"POST /quick HTTP/1.1\r\nHost: %s\r\nContent-Length: 10\r\n\r\n01234"
                % host.encode())
    tk.wait_for(lambda: any(x.startswith("/hold") for x in app.targets()), 10 * tk.SLOW,
                "the held request at the app")
    flood = []
    try:
        for _ in range(FLOOD):  # far past the cap; each sent half a head, then nothing
            flood.append(side.slow())
        tk.wait_for(lambda: metric(d.admin_port, r"^ttfd_accept_full_total (\d+)$") >= 1,
                    5 * tk.SLOW, "the cap reached")
        t0 = time.monotonic()
        b = side.agent(wait=False)  # an agent coming (back) at a cap full of slow ones
        b.wait_established(AGENT_BOUND * tk.SLOW)  # (it waited for --header-timeout: 30 s)
        took = time.monotonic() - t0
        for agent in (b, a):  # both tunnels serve (each request needs a place too)
            c = side.client(agent)
            r = c.request("GET", "/quick", side.host(agent), headers=[("Connection", "close")])
            c.close()
            assert r.status == 200 and r.body == b"quick", r.raw_head
        # the requests in progress were not cut: their answers come whole
        holds.release(0)
        r = held.read_response()
        assert r.status == 200 and r.body == b"held", r.raw_head
        upload.send(b"56789")
        r = upload.read_response()
        assert r.status == 200 and r.body == b"quick", r.raw_head
        closed = sum(1 for c in flood if closed_by_peer(c))
        heads = metric(d.admin_port, r'^ttfd_accept_room_closes_total\{state="head"\} (\d+)$')
        assert closed >= FLOOD - CAP and heads >= closed, (closed, heads)
        print("%s: agent registered %.3f s after it started at a cap of %d held by %d slow "
              "connections (--header-timeout %d s); %d slow ones closed"
              % (kind, took, CAP, FLOOD, HEADER_TIMEOUT, closed))
    finally:
        held.close()
        upload.close()
        for c in flood:
            c.close()


def test_a_flood_of_fast_clients_at_a_short_cap_is_served_whole(stack):
    """Clients that send their request at once are never closed to make room (their head is
    whole within the grace): at a cap of 4 (the agent and 3 public), 16 clients each making 10
    requests on new connections all get their answers; those past the cap wait in the kernel's
    queue for a place."""
    app, _ = app_with_holds(stack)
    d = stack.ttfd("--max-connections", "4", "--admin", "127.0.0.1:0")
    a = stack.ttf(d.endpoint(), app.port)
    host = tk.sub_host(d, a.tunnel_id)
    errors, done = [], []

    def client():
        try:
            for _ in range(10):
                r = tk.http(d.port, "GET", "/quick", host, headers=[("Connection", "close")],
                            timeout=20)
                assert r.status == 200 and r.body == b"quick", r.raw_head
                done.append(1)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    t0 = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60 * tk.SLOW)
    took = time.monotonic() - t0
    assert not errors, errors[:3]
    assert len(done) == 160
    fulls = metric(d.admin_port, r"^ttfd_accept_full_total (\d+)$")
    cut = sum(metric(d.admin_port, r'^ttfd_accept_room_closes_total\{state="%s"\} (\d+)$' % s)
              for s in ("idle", "head"))
    assert fulls >= 1 and cut == 0, (fulls, cut)
    print("160 requests by 16 clients at a cap of 4 in %.2f s; accepting paused %d times, "
          "none closed to make room" % (took, fulls))
