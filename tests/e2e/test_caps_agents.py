# SPDX-License-Identifier: MIT
"""Agents' links against ttfd --max-connections: a hostile agent (or any token holder) opened
links that each sent `ready` (a tunnel each) until they filled the cap. Agents' sessions are never
closed to make room (pconn_make_room), so accepting stopped for good: a request to a legitimate
tunnel got no answer. Now agents hold at most --max-agents links (default: half of
--max-connections) and --max-agents-per-ip from one address (default 32); beyond that an
upgrade is refused with 503 and Retry-After (nginx's limit_conn answer), after closing a link of
the same scope that sent no `ready` a second after its upgrade, if there is one."""

import socket
import time

import pytest

import rawagent
import tunnelkit as tk
from test_caps_slow import CAP, Side

MODES = rawagent.MODES
ANSWER_BOUND = 5.0  # s: what the attacker's measure waited for an answer in vain


def serve_one(agent, mode):
    """The legitimate agent answers one request with 200 "ok"."""
    if mode == "bin":
        sid, _, _, _ = agent.recv_request(timeout=ANSWER_BOUND)
        agent.respond(sid, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", b"ok")
    else:
        m, _, _ = agent.recv_request(timeout=ANSWER_BOUND)
        agent.respond(m["request_id"], 200, {"content-length": ["2"]}, b"ok")


def open_agents(cls, dial, port, n, headers=()):
    """n agents' upgrades (with headers), each sending ready once let in: (the ones in, the
    refused ones)."""
    ins, refused = [], []
    for _ in range(n):
        a = cls(port, sock=dial(), refusal_ok=True, headers=headers)
        if a.status == 101:
            a.ready()
            ins.append(a)
        else:
            refused.append(a)
    return ins, refused


def assert_refused_busy(a):
    heads = dict((k.lower(), v) for k, v in a.heads)
    assert a.status == 503 and heads.get("retry-after") == "1", (a.status, a.heads)
    assert heads.get("cache-control") == "no-store", a.heads


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("kind", ["plain", "tls", "ipv6"])
def test_agents_cannot_fill_the_connection_cap(stack, tmp_path, kind, mode):
    side = Side(stack, tmp_path, kind, None)
    cls, port = MODES[mode], side.d.port
    legit = cls(port, sock=side.dial("localhost"))
    legit.ready()
    host = "%s.%s:%d" % (legit.tunnel_id, side.domain, port)
    ins, refused = open_agents(cls, lambda: side.dial("localhost"), port, CAP - 1)
    try:
        # half of --max-connections for agents: the legitimate one and 15 more
        assert len(ins) == CAP // 2 - 1, (len(ins), len(refused))
        for a in refused:
            assert_refused_busy(a)
        t0 = time.monotonic()
        c = tk.RawConn(port, sock=side.dial(host), timeout=ANSWER_BOUND)
        c.send(tk.build_request("GET", "/", host, [("Connection", "close")]))
        serve_one(legit, mode)
        r = c.read_response()
        c.close()
        assert r.status == 200 and r.body == b"ok", r.raw_head
        assert time.monotonic() - t0 < ANSWER_BOUND * tk.SLOW
    finally:
        for a in ins + refused + [legit]:
            a.close()


def dial_from(port, source):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10 * tk.SLOW)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


@pytest.mark.parametrize("mode", sorted(MODES))
def test_one_address_holds_at_most_max_agents_per_ip(stack, mode):
    d = stack.ttfd("--max-agents-per-ip", "2", "--state", ":memory:")
    cls = MODES[mode]
    ins, refused = open_agents(cls, lambda: dial_from(d.port, "127.0.0.1"), d.port, 3)
    other, _ = open_agents(cls, lambda: dial_from(d.port, "127.0.0.2"), d.port, 1)
    try:
        assert len(ins) == 2 and len(refused) == 1 and len(other) == 1
        assert_refused_busy(refused[0])
        ins[0].close()
        again = []

        def one_more_gets_in():
            a, no = open_agents(cls, lambda: dial_from(d.port, "127.0.0.1"), d.port, 1)
            again.extend(a + no)
            return bool(a)
        # the closed one's place is released once ttfd has read its close
        tk.wait_for(one_more_gets_in, 10 * tk.SLOW, "an agent in after one of the two closed",
                    interval=0.1)
    finally:
        for a in ins + refused + other + again:
            a.close()


@pytest.mark.parametrize("mode", sorted(MODES))
def test_behind_a_trusted_proxy_the_cap_counts_the_named_clients(stack, mode):
    """Behind a --trusted-proxy every agent's link comes from the proxy's address: the cap per
    address counts the client X-Forwarded-For names, as the access rules and the request log do
    (nginx's limit_conn counts the address realip gives). Before: the proxy's, so that 2 agents
    in all got in behind it at --max-agents-per-ip 2 (by default 32 for a whole server)."""
    d = stack.ttfd("--max-agents-per-ip", "2", "--trusted-proxy", "127.0.0.1/32",
                   "--state", ":memory:")
    cls = MODES[mode]
    opened = []

    def agents(client, n, source="127.0.0.1"):
        ins, refused = open_agents(cls, lambda: dial_from(d.port, source), d.port, n,
                                   [("X-Forwarded-For", client)])
        opened.extend(ins + refused)
        return ins, refused

    try:
        ins, refused = agents("198.51.100.1", 3)
        assert len(ins) == 2 and len(refused) == 1
        assert_refused_busy(refused[0])
        for client in ("198.51.100.2", "2001:db8::2"):
            ins, refused = agents(client, 2)
            assert len(ins) == 2 and not refused, (client, refused and refused[0].status)
        # an untrusted peer's X-Forwarded-For names nobody: 127.0.0.2 counts as itself
        ins, refused = agents("198.51.100.9", 3, source="127.0.0.2")
        assert len(ins) == 2 and len(refused) == 1
    finally:
        for a in opened:
            a.close()


def test_links_without_ready_make_room_at_the_agent_cap(stack):
    d = stack.ttfd("--max-agents", "2", "--state", ":memory:")
    silent = [rawagent.BinAgent(d.port) for _ in range(2)]  # upgraded, no ready ever
    tries = []

    def newcomer_gets_in():
        a, no = open_agents(rawagent.BinAgent, lambda: dial_from(d.port, "127.0.0.1"), d.port, 1)
        tries.extend(a + no)
        for r in no:
            assert_refused_busy(r)
        return bool(a)
    try:
        t0 = time.monotonic()
        # a second after their upgrade (the grace of a slow head at --max-connections)
        tk.wait_for(newcomer_gets_in, 3 * tk.SLOW, "a ready agent in past two silent links",
                    interval=0.1)
        assert time.monotonic() - t0 >= 0.9
        assert rawagent.sock_closed(silent[0].c)
    finally:
        for a in silent + tries:
            a.close()


def test_ttf_refused_at_the_cap_says_why_and_gets_in_once_a_place_frees(stack):
    """ttf's upgrade refused with 503 at --max-agents: it says so and tries again (its back-off:
    1 s, then 2 s, jittered); once the link holding the only place closes, it gets its tunnel."""
    srv = stack.local()
    d = stack.ttfd("--max-agents", "1", "--state", ":memory:")
    holder = rawagent.BinAgent(d.port)
    holder.ready()
    a = stack.ttf(d.endpoint(), srv.port, "--no-inspect", wait=False)
    try:
        a.proc.wait_line(r"503.*too many agents connected \(ttfd's --max-agents 1\)", 10,
                         stream="err")
        assert a.established == 0
        holder.close()
        a.wait_established(10 * tk.SLOW)
        r = tk.http(d.port, "GET", "/x", tk.sub_host(d, a.tunnel_id))
        assert r.status == 200, r.raw_head
    finally:
        holder.close()
