# SPDX-License-Identifier: MIT
"""ttfd --max-connections against connections that held the cap without being a slow first
head (test_caps_slow.py): each locked a (re)connecting agent out, and now goes after a second at
the cap (pconn_make_room, server/pconn_room.c), counted in ttfd_accept_room_closes_total:
- agents' upgrades to /_tunnel (no auth asked) that never send `ready`: a session at once, they
  held their place for TTFD_READY_SEC (30 s); now a second after the upgrade (state="ready");
- connections answered with Connection: close (a 404 for no tunnel, a 400, a 401 to an agent
  without a token) that never close: they lingered TTFD_LINGER_SEC (5 s); now a second after
  their answer was taken whole (state="linger");
- keep-alive clients that start each head as soon as an answer comes and end it 0.8 s later,
  within the grace of each head: they held their place for good; now once their heads took a
  second in all (state="head");
- clients whose answers are whole in ttfd (the stream ended: --max-streams no longer counts
  them) and that take none of them: they held their place until --send-timeout (60 s); now a
  second after they last took anything (state="stalled")."""

import socket
import threading
import time

import pytest

import tunnelkit as tk
from scriptapp import ScriptApp
from test_caps import app_with_holds, closed_by_peer
from test_caps_slow import CAP, Side, metric
from test_stream_limit import quick

AGENT_BOUND = 3.0  # s: 1 s grace + 250 ms retries + the agent's start
UPGRADE = (b"GET /_tunnel HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           b"Sec-WebSocket-Version: 13\r\n\r\n")
NO_TUNNEL = b"GET / HTTP/1.1\r\nHost: nosuch.localhost\r\n\r\n"  # 404, Connection: close


def fill(side, payload, answer, n):
    """n connections that each send payload and read the start of answer, then stay silent."""
    out = []
    for _ in range(n):
        s = side.dial("localhost")
        s.sendall(payload)
        got = b""
        while answer not in got:
            b = s.recv(4096)
            assert b, got
            got += b
        out.append(s)
    return out


def agent_gets_in(side):
    """A new agent at the cap: how long it took to register; its tunnel serves."""
    t0 = time.monotonic()
    b = side.agent(wait=False)
    b.wait_established(AGENT_BOUND * tk.SLOW)
    took = time.monotonic() - t0
    c = side.client(b)
    r = c.request("GET", "/quick", side.host(b), headers=[("Connection", "close")])
    c.close()
    assert r.status == 200 and r.body == b"quick", r.raw_head
    return took


def room_closes(side, state):
    return metric(side.d.admin_port,
                  r'^ttfd_accept_room_closes_total\{state="%s"\} (\d+)$' % state)


@pytest.mark.parametrize("kind,what", [("plain", "ready"), ("tls", "ready"), ("ipv6", "ready"),
                                       ("plain", "linger"), ("tls", "linger"),
                                       ("ipv6", "linger")])
def test_silent_upgrades_and_lingerers_do_not_lock_out_an_agent(stack, tmp_path, kind, what):
    app, holds = app_with_holds(stack)
    # no agents' caps (test_caps_agents.py): the upgrades fill --max-connections itself
    side = Side(stack, tmp_path, kind, app, ["--max-agents", "0", "--max-agents-per-ip", "0"])
    d = side.d
    a = side.agent()
    held = side.client(a)  # a request in progress: never closed to make room
    held.send(b"GET /hold?0 HTTP/1.1\r\nHost: %s\r\n\r\n" % side.host(a).encode())
    tk.wait_for(lambda: any(x.startswith("/hold") for x in app.targets()), 10 * tk.SLOW,
                "the held request at the app")
    payload, answer = (UPGRADE, b"101 Switching") if what == "ready" else (NO_TUNNEL, b"404")
    flood = fill(side, payload, answer, CAP - 3)  # with the agent and the held one: the cap
    extra = []
    try:
        for _ in range(8):  # past the cap: they wait in the kernel's queue
            extra.append(socket.create_connection((side.ip, d.port), timeout=10))
        tk.wait_for(lambda: metric(d.admin_port, r"^ttfd_accept_full_total (\d+)$") >= 1,
                    5 * tk.SLOW, "the cap reached")
        took = agent_gets_in(side)  # (it waited 30 s, or 5 s lingering)
        holds.release(0)
        r = held.read_response()
        assert r.status == 200 and r.body == b"held", r.raw_head
        cut = room_closes(side, what)
        # a session closed shows at the client; a lingerer had its FIN already: the count alone
        closed = sum(1 for s in flood if closed_by_peer(s)) if what == "ready" else cut
        assert closed >= 1 and cut >= closed, (closed, cut)
        print("%s/%s: agent registered in %.3f s at a cap of %d held by %d %s; %d closed"
              % (kind, what, took, CAP, len(flood), what, closed))
    finally:
        held.close()
        for s in flood + extra:
            s.close()


def keep_with_slow_heads(side, host, stop, cut):
    """A keep-alive client that starts its next head as soon as an answer comes and finishes it
    0.8 s later (within the grace each time): it holds its place as a slowloris would."""
    s = side.dial(host)
    req = b"GET /quick HTTP/1.1\r\nHost: %s\r\n" % host.encode()
    try:
        s.sendall(req + b"\r\n")
        while not stop.is_set():
            got = b""
            while not got.endswith(b"quick"):
                b = s.recv(4096)
                if not b:
                    cut.append(1)
                    return
                got += b
            s.sendall(req)  # the next head at once, its end 0.8 s later
            if stop.wait(0.8):
                return
            s.sendall(b"\r\n")
    except OSError:
        cut.append(1)
    finally:
        s.close()


@pytest.mark.parametrize("kind", ["plain", "tls", "ipv6"])
def test_keep_alive_clients_with_slow_heads_do_not_lock_out_an_agent(stack, tmp_path, kind):
    """Each head of theirs takes 0.8 s, under the grace, but their heads in all soon take more
    than it: then they go as a slow head does (before: they held the cap for good, an agent
    never got in; ttf gave up its connection after 10 s and queued again)."""
    app, _ = app_with_holds(stack)
    side = Side(stack, tmp_path, kind, app)
    d = side.d
    a = side.agent()
    host = side.host(a)
    stop, cut = threading.Event(), []
    threads = [threading.Thread(target=keep_with_slow_heads, args=(side, host, stop, cut))
               for _ in range(CAP + 8)]
    try:
        for t in threads:
            t.start()
        tk.wait_for(lambda: metric(d.admin_port, r"^ttfd_accept_full_total (\d+)$") >= 1,
                    5 * tk.SLOW, "the cap reached")
        # those in the cap have made two requests each: their heads took 0.8 s in all at least
        tk.wait_for(lambda: len(app.targets()) >= 2 * (CAP - 2), 10 * tk.SLOW, "two rounds")
        took = agent_gets_in(side)
        heads = room_closes(side, "head")
        assert heads >= 1, heads
        print("%s: agent registered in %.3f s at a cap of %d held by %d keep-alive clients "
              "with 0.8 s heads; %d closed in their head" % (kind, took, CAP, len(threads), heads))
    finally:
        stop.set()
        for t in threads:
            t.join(10)


BIG = 300000  # whole in ttfd's window (512 KiB): the stream ends, the answer still going out


def big(req, conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % BIG + b"b" * BIG)
    return True


@pytest.mark.parametrize("kind", ["plain", "tls", "ipv6"])
def test_clients_that_take_none_of_their_answers_do_not_lock_out_an_agent(stack, tmp_path,
                                                                          kind):
    """A client that asks for an answer bigger than what the sockets hold (here 300 kB, whole in
    ttfd once the agent sent it: its stream ends, so --max-streams no longer counts it) and reads
    none of it held its place until --send-timeout (60 s). At the cap, one whose client took
    nothing of its whole answers for a second may go now (before: an agent did not get in)."""
    app = ScriptApp({"/big": big, "/quick": quick})
    stack.items.append(("server", app, None))
    side = Side(stack, tmp_path, kind, app)
    d = side.d
    a = side.agent()
    host = side.host(a)
    hogs = []
    try:
        for _ in range(CAP + 8):
            s = socket.socket(socket.AF_INET6 if ":" in side.ip else socket.AF_INET)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # takes little, reads none
            s.settimeout(10 * tk.SLOW)
            s.connect((side.ip, d.port))
            if side.ctx:
                s = side.ctx.wrap_socket(s, server_hostname=host.partition(":")[0])
            s.sendall(b"GET /big HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode() * 2)
            hogs.append(s)
            if len(hogs) == CAP - 2:  # the rest wait in the queue (a TLS one in its handshake)
                break
        tk.wait_for(lambda: sum(t == "/big" for t in app.targets()) >= CAP - 2, 10 * tk.SLOW,
                    "their answers at the app")
        extra = [socket.create_connection((side.ip, d.port), timeout=10) for _ in range(8)]
        hogs += extra
        tk.wait_for(lambda: metric(d.admin_port, r"^ttfd_accept_full_total (\d+)$") >= 1,
                    5 * tk.SLOW, "the cap reached")
        took = agent_gets_in(side)  # (it waited for --send-timeout, 60 s)
        n = room_closes(side, "stalled")
        assert n >= 1, n
        print("%s: agent registered in %.3f s at a cap of %d held by %d clients reading none of "
              "their answers; %d closed" % (kind, took, CAP, CAP - 2, n))
    finally:
        for s in hogs:
            s.close()


def read_quick(s):
    """An answer of /quick read whole; a close or a reset before it fails the test."""
    got = b""
    try:
        while not got.endswith(b"quick"):
            b = s.recv(4096)
            assert b, "closed before the answer: %r" % got
            got += b
    except ConnectionResetError:
        raise AssertionError("reset before the answer: %r" % got)
    return got


@pytest.mark.parametrize("kind", ["plain", "tls"])
def test_a_kept_alive_client_into_its_next_head_is_not_taken_for_a_slow_one(stack, tmp_path,
                                                                           kind):
    """A keep-alive client that pauses between requests (here 1.3 s), then sends its next head
    in two pieces a moment apart (segments of a head over a slow link) was closed to make room
    between them: its wait was counted from its last answer, not from the head's first octet,
    so it went first, before the clients that had sent nothing for over a second. A head that
    takes well under the grace is never cut; the silent ones go."""
    side = Side(stack, tmp_path, kind, app_with_holds(stack)[0])
    host = side.host(side.agent())
    keep = side.dial(host)
    req = b"GET /quick HTTP/1.1\r\nHost: %s\r\n" % host.encode()
    keep.sendall(req + b"\r\n")
    assert read_quick(keep).startswith(b"HTTP/1.1 200")
    # silent (after their TLS handshake): with the agent and keep, one under the cap
    flood = [side.dial("localhost") for _ in range(CAP - 3)]
    aged = time.monotonic() + 1.2  # the silent ones past the grace (1 s)
    extra = []
    try:
        while time.monotonic() < aged:
            time.sleep(0.05)
        keep.sendall(req)  # the next head, its end a moment later
        for _ in range(4):  # the cap, and three waiting in the kernel's queue
            extra.append(socket.create_connection((side.ip, side.d.port), timeout=10))
        tk.wait_for(lambda: room_closes(side, "idle") + room_closes(side, "head") >= 1,
                    5 * tk.SLOW, "room made")
        keep.sendall(b"\r\n")
        assert read_quick(keep).startswith(b"HTTP/1.1 200")
    finally:
        keep.close()
        for s in flood + extra:
            s.close()
