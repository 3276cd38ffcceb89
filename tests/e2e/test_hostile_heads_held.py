# SPDX-License-Identifier: MIT
"""Response heads a hostile agent makes ttfd hold share one budget (docs/protocol.md §4 "Limits").

A head may be 1 MiB + 64 KiB; written toward a public client that never reads it, or assembled
from JSON http_response_headers continuations the agent never finishes, ttfd holds it for as long
as --send-timeout or --request-timeout lasts. An agent answering 100 such clients made ttfd hold
97 MB (at --max-streams 2000: 2 GB). Every exchange holds up to TTFD_AGENT_HEAD_SHARE (128 KiB)
of heads of its own and all together at most TTFD_AGENT_HEAD_BUDGET (64 MiB) beyond: the exchange
whose head would pass it is dropped (the agent told, the reason logged), its client answered 502;
the agent's link, its other exchanges and other agents go on, and the bytes come back when the
clients take them or leave.
"""

import socket
import struct
import time

import pytest

import rawagent as ra
import tunnelkit as tk
from test_hostile_head import hwm_kb, server  # noqa: F401 (server: the fixture)

N = 128  # exchanges, each holding a 1 MiB head: twice TTFD_AGENT_HEAD_BUDGET
BODY = 6 << 20  # json-body: 24 of them, twice TTFD_AGENT_HEAD_BUDGET beyond the shares
LINES = 1000
PAD = "a" * 1000  # 1000 lines of 1009 octets: a head of about 1 MiB
OVER = b"the tunnel agent's response heads are over the server's memory for them"
# peak RSS growth the exchanges may cost ttfd: the 64 MiB budget, their shares (128 KiB of heads,
# 1.25 MiB of bodies) and the parsing of one message (before: 131-135 MB, json-body 190 MB); under
# ASan or valgrind memory is not ttfd's own
GROWTH_MAX_KB = {"bin": 100 << 10, "json": 100 << 10, "json-parts": 100 << 10,
                 "json-body": 135 << 10}


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
    without windows: the ones past the budget are dropped (502 before the head, else the
    connection closed), the others are held; ttfd's peak RSS grows by less than GROWTH_MAX_KB; an
    honest agent is served meanwhile; once the clients leave, a 1 MiB head goes out again
    (before: everything was held, nothing refused, 131-190 MB more peak RSS)."""
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
        if not (tk.SANITIZED or tk.VALGRIND):
            grown = hwm_kb(server) - before
            assert grown < GROWTH_MAX_KB[mode], "ttfd's peak RSS grew by %d kB" % grown
        if mode in ("bin", "json"):  # json-parts: the held ones have nothing; json-body: all 200
            statuses = [status_of(cl) for cl in clients]
            assert statuses.count(b"502") >= N // 4, statuses
            assert statuses.count(b"200") >= N // 4, statuses
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
