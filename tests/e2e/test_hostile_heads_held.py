# SPDX-License-Identifier: MIT
"""Answers a hostile agent makes ttfd hold share one budget (docs/protocol.md §4 "Limits").

A head may be 1 MiB + 64 KiB; written toward a public client that never reads it, or assembled
from JSON http_response_headers continuations the agent never finishes, ttfd holds it for as long
as --send-timeout or --request-timeout lasts. An agent answering 100 such clients made ttfd hold
97 MB (at --max-streams 2000: 2 GB). Every exchange holds up to TTFD_AGENT_HEAD_SHARE (128 KiB)
of heads (TTFD_AGENT_OUT_SHARE, 1.25 MiB, of all it sent) of its own; all together at most
TTFD_AGENT_HELD_BUDGET (64 MiB) beyond, and those of one agent address at most a quarter of it:
the exchange that would pass either is dropped (the agent told, the reason logged), its client
answered 502; the agent's link, its other exchanges and other agents go on (an agent of another
address still has room for its answers), and the bytes come back when the clients take them or
leave.
"""

import re
import socket
import struct
import time

import pytest

import rawagent as ra
import tunnelkit as tk
from test_hostile_head import hwm_kb, server  # noqa: F401 (server: the fixture)

N = 128  # exchanges, each holding a 1 MiB head: twice TTFD_AGENT_HELD_BUDGET
BODY = 6 << 20  # json-body: 24 of them, twice TTFD_AGENT_HELD_BUDGET beyond the shares
LINES = 1000
PAD = "a" * 1000  # 1000 lines of 1009 octets: a head of about 1 MiB
OVER = b"the tunnel agent's answers held are over the server's memory for them"
SHARE = 128 << 10  # TTFD_AGENT_HEAD_SHARE
PART = (64 << 20) // 4  # TTFD_AGENT_HELD_BUDGET / MEM_BUDGET_GROUP_PARTS: one address's part
HEAD = LINES * len("x-pad: %s\r\n" % PAD)  # the octets of a head ttfd writes, about
SLACK = 256 << 10  # of a head, what the sockets may take off ttfd's output (not counted)
# heads held toward clients that do not read: each counts HEAD - SHARE, less what the sockets took
HELD = range(PART // (HEAD - SHARE), PART // (HEAD - SHARE - SLACK) + 2)


def stalled_get(server, host, path):
    """A public client that sends a GET and then reads nothing (a receive buffer of 4 KiB)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(20 * tk.SLOW)
    s.connect(("127.0.0.1", server.port))
    c = tk.RawConn(server.port, sock=s)
    c.send(tk.build_request("GET", path, host))
    return c


def answer(agent, mode, req):
    """agent answers req with a head of about 1 MiB: whole (bin, json), or the first part of one
    it never finishes (json-parts); or with a body of BODY octets at once (json-body: an agent
    that takes no per-request windows)."""
    if mode == "json-body":
        agent.respond(req[0]["request_id"], 200, {"content-length": [str(BODY)]}, b"x" * BODY)
        return
    if mode == "bin":
        head = (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n" +
                (b"x-pad: " + PAD.encode() + b"\r\n") * LINES + b"\r\n")
        agent.send_frame(ra.RESPONSE, ra.FIN, req[0], head)
        return
    agent.send_json({"type": "http_response", "request_id": req[0]["request_id"],
                     "status_code": 200, "headers": {"content-length": ["0"],
                                                     "x-pad": [PAD] * LINES},
                     "headers_more": mode == "json-parts"})


def status_of(conn):
    return conn.read_until(b"\r\n")[9:12]


@pytest.mark.parametrize("mode", ["bin", "json", "json-parts", "json-body"])
def test_heads_held_for_an_agent_are_bounded(server, mode):
    """N heads of 1 MiB toward clients that do not read (or never finished), or 24 bodies of 6 MiB
    without windows: the ones past the agent address's part of the budget are dropped (502 before
    the head, else the connection closed, the reason logged), as many held as the part holds; an
    honest agent is served meanwhile; once the clients leave, a 1 MiB head goes out again
    (before the budget: everything was held, nothing refused, 131-190 MB more peak RSS; before the
    address's part: 3-4 times as many held)."""
    agent_cls = ra.BinAgent if mode == "bin" else ra.JsonAgent
    hostile, honest = agent_cls(server.port), ra.BinAgent(server.port)
    clients = []
    try:
        hostile.ready()
        honest.ready()
        host = tk.sub_host(server, hostile.tunnel_id)
        before = hwm_kb(server)
        for i in range(24 if mode == "json-body" else N):
            clients.append(stalled_get(server, host, "/h%d" % i))
            answer(hostile, mode, hostile.recv_request())
        server.proc.wait_line(r"tunnel %s .*%s" % (hostile.tunnel_id, OVER.decode()), 10,
                              stream="err")
        c = ra.keepalive_get(server.port, tk.sub_host(server, honest.tunnel_id), "/honest")
        sid, _, _, _ = honest.recv_request()
        honest.respond(sid, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", b"ok")
        r = c.read_response()
        assert r.status == 200 and r.body == b"ok"
        c.close()
        print("ttfd's peak RSS grew by %d kB" % (hwm_kb(server) - before))  # bench/ has targets
        if mode in ("bin", "json"):  # json-parts: the held ones have nothing; json-body: all 200
            statuses = [status_of(cl) for cl in clients]
            print("%d of %d held (%d..%d allowed)" % (statuses.count(b"200"), N, HELD[0], HELD[-1]))
            assert statuses.count(b"200") in HELD, (statuses.count(b"200"), HELD)
            assert statuses.count(b"502") == N - statuses.count(b"200"), statuses
        for cl in clients:  # reset (a FIN alone leaves a client waiting for its answer)
            cl.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            cl.close()
        clients = []
        # ttfd sees the clients leave as their resets reach it: until then a head may be refused
        end, status = tk.deadline(10), None
        while status != b"200" and time.monotonic() < end:
            late = stalled_get(server, host, "/late")
            clients.append(late)
            answer(hostile, "bin" if mode == "bin" else "json", hostile.recv_request())
            status = status_of(late)
        assert status == b"200"
    finally:
        for cl in clients:
            cl.close()
        hostile.close()
        honest.close()


def test_another_address_is_served_past_a_hostile_one(server):
    """A hostile agent of 127.0.0.1 answers N clients that do not read with heads of 1 MiB, then an
    agent of 127.0.0.2 without windows answers a client that does not read yet with a body of 6
    MiB (4.75 MiB beyond its share): it is held whole, and the client reads all of it (before:
    the hostile agent had filled the whole budget, and that answer's connection was closed)."""
    hostile = ra.BinAgent(server.port)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(20 * tk.SLOW)
    s.bind(("127.0.0.2", 0))
    s.connect(("127.0.0.1", server.port))
    honest = ra.JsonAgent(server.port, sock=s)
    clients = []
    try:
        hostile.ready()
        honest.ready()
        host = tk.sub_host(server, hostile.tunnel_id)
        for i in range(N):
            clients.append(stalled_get(server, host, "/h%d" % i))
            answer(hostile, "bin", hostile.recv_request())
        server.proc.wait_line(r"tunnel %s .*%s" % (hostile.tunnel_id, OVER.decode()), 10,
                              stream="err")
        honest_host = tk.sub_host(server, honest.tunnel_id)
        slow = stalled_get(server, honest_host, "/big")
        honest.respond(honest.recv_request()[0]["request_id"], 200,
                       {"content-length": [str(BODY)]}, b"y" * BODY)
        # the link's messages are taken in order: once /after is answered, /big's body was held
        c = ra.keepalive_get(server.port, honest_host, "/after")
        honest.respond(honest.recv_request()[0]["request_id"], 200, {}, b"ok")
        assert c.read_response().body == b"ok"
        c.close()
        r = slow.read_response()
        assert r.status == 200 and r.body == b"y" * BODY
        assert not re.search(r"tunnel %s .*%s" % (honest.tunnel_id, OVER.decode()),
                             server.proc.stderr())
    finally:
        for cl in clients:
            cl.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            cl.close()
        hostile.close()
        honest.close()
