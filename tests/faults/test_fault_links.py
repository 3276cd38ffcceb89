# SPDX-License-Identifier: MIT
"""An agent link that dies without a FIN or a reset, in both wire modes (a network change, a NAT
that forgot the flow, a laptop that slept, ttf stopped with SIGSTOP): neither end can tell it
from a quiet link, so only silence tells. ttf sends a WebSocket ping every 20 s and gives the
link up after 60 s without a byte; ttfd pings every quarter of --agent-timeout and closes a link
that brought nothing for all of it.

  - requests in flight on the dead link fail at once with the 502 of a gone agent (they waited
    for --request-timeout, 504, each; a download whose head was out hung for good), and the name
    waits for its agent (--reconnect-grace);
  - the owner's agent back over a new link before ttfd's timeout (ttf's own 60 s came first, or
    it was restarted) gets its name, and its URL, back: the silent holder is closed for it (it
    was given a new id, the old URL pointing at the dead link for as long as ttfd kept it);
  - a holder that is alive (it answers) is never closed so: the newcomer gets a new id;
  - kill -9 of ttf with requests in flight, many times over: every client gets its 502 at once,
    the same URL each time, and ttfd's fds and RSS come back to their baseline.
"""

import os
import socket
import threading
import time
import types

import pytest

import faultkit as fk
import rawagent as ra
import tunnelkit as tk


def in_flight(port, host, target, read_body=False):
    """A request sent from a thread; .result is (status, body, seconds) or ("cut", bytes, s)."""
    box = types.SimpleNamespace(result=None, head=False, thread=None)

    def run():
        t0 = time.monotonic()
        c = tk.RawConn(port, timeout=120)
        try:
            c.send(tk.build_request("GET", target, host))
            if not read_body:
                r = c.read_response()
                box.result = (r.status, r.body, time.monotonic() - t0)
                return
            r = c.read_head()
            box.head = True
            got = 0
            while True:
                b = c.sock.recv(65536)
                if not b:
                    break
                got += len(b)
            box.result = ("cut", got, time.monotonic() - t0)
        except OSError as e:
            box.result = ("error", repr(e), time.monotonic() - t0)
        finally:
            c.close()

    box.thread = threading.Thread(target=run, daemon=True)
    box.thread.start()
    return box


@pytest.mark.parametrize("mode", fk.MODES)
def test_silent_link_fails_its_requests_at_once(stack, tmp_path, mode):
    """ttfd --agent-timeout 3, --request-timeout 60: the link dies with two requests waiting for
    their answers and a download under way. All three end within the agent timeout (and a
    beat): 502 "agent went away", the download cut; ttfd logs why. ttf restarted over a live
    link gets the same URL back and is served."""
    srv = stack.local()
    d = stack.ttfd("--agent-timeout", "3", "--request-timeout", "60", "--state", str(tmp_path / "d.db"))
    px = stack.closing(fk.FreezingProxy(d.port))
    env = {"XDG_STATE_HOME": str(tmp_path)}
    a = stack.ttf(px.endpoint(), srv.port, *fk.mode_args(mode), env=env)
    host = tk.sub_host(d, a.tunnel_id)
    hangs = [in_flight(d.port, host, "/hang") for _ in range(2)]
    dl = in_flight(d.port, host, "/download?n=%d" % (400 * tk.MB), read_body=True)
    tk.wait_for(lambda: srv.state.hang_entered.is_set() and dl.head, 10, "the requests under way")
    px.freeze()
    t0 = time.monotonic()
    for b in hangs + [dl]:
        b.thread.join(12 * tk.SLOW)
        assert b.result is not None, "a request on the dead link still waits after %.0f s" % (
            time.monotonic() - t0)
    for b in hangs:
        status, body, _ = b.result
        assert status == 502 and body == b"the tunnel agent went away\n", b.result
    assert dl.result[0] == "cut" and dl.result[1] < 400 * tk.MB, dl.result[:2]
    waited = time.monotonic() - t0
    assert waited < 3 + 2 * tk.SLOW, "the dead link was noticed after %.1f s" % waited
    d.proc.wait_line(r"agent 127\.0\.0\.1 disconnected: tunnel %s \(1006 no data" % a.tunnel_id, 5,
                     stream="err")
    # ttf itself would give the link up after 60 s; restarted now (new links relay), it gets
    # its URL back
    a.proc.kill()
    stack.expect(a.proc, None)
    a2 = stack.ttf(px.endpoint(), srv.port, *fk.mode_args(mode), env=env)
    assert a2.tunnel_id == a.tunnel_id, "ttf came back with another URL: %s -> %s" % (a.url, a2.url)
    r = tk.http(d.port, "GET", "/after", host)
    assert r.status == 200, r.raw_head


def owner_back(d, Agent, tid, key):
    """The owner's new links ask for tid with key every 0.5 s until one gets it, within 7 s (an
    --agent-timeout of 8 s would have freed it after 8), the old link's close logged: the ids
    they were given."""
    t0 = time.monotonic()
    got = []

    def back():
        n = Agent(d.port)
        try:
            got.append(n.ready(tunnel_id=tid, agent_key=key)["tunnel_id"])
        finally:
            n.close()
        return got[-1] == tid

    tk.wait_for(back, 7, "the owner's new link given its id back", interval=0.5)
    assert time.monotonic() - t0 < 8, "granted only once the timeout closed the old link"
    d.proc.wait_line(r"tunnel %s is back over a new link; its previous one .* sent nothing"
                     % tid, 5, stream="err")
    return got


@pytest.mark.parametrize("mode", fk.MODES)
def test_owner_back_over_a_new_link_gets_its_name(stack, tmp_path, mode):
    """The link dies; the owner's agent (the same agent key) asks for its id over a new link
    while ttfd still holds the silent one (--agent-timeout 8: pinged every 2 s). Once the old
    link has been silent for two beats, the ready gets that id back, the old link closed (and
    logged), before the timeout would have freed it."""
    d = stack.ttfd("--agent-timeout", "8", "--state", ":memory:")
    px = stack.closing(fk.FreezingProxy(d.port))
    Agent = ra.BinAgent if mode == "binary" else ra.JsonAgent
    key = "owner-key-" + mode
    old = Agent(px.port)
    try:
        tid = old.ready(agent_key=key)["tunnel_id"]
        px.freeze()
        got = owner_back(d, Agent, tid, key)
        assert got[0] != tid, "the id was given while its holder was not silent yet: %r" % got
    finally:
        old.close()


@pytest.mark.parametrize("mode", fk.MODES)
def test_a_live_holder_is_never_replaced(stack, mode):
    """The holder keeps talking (a ping every 0.5 s) for three beats: another link with the
    same key asking for its id gets a new one, and the holder still serves its requests."""
    d = stack.ttfd("--agent-timeout", "4", "--state", ":memory:")
    Agent = ra.BinAgent if mode == "binary" else ra.JsonAgent
    key = "live-key-" + mode
    holder = Agent(d.port)
    try:
        tid = holder.ready(agent_key=key)["tunnel_id"]
        end = time.monotonic() + 3.5
        while time.monotonic() < end:
            holder.send_json({"type": "ping"})
            time.sleep(0.5)
        n = Agent(d.port)
        try:
            assert n.ready(tunnel_id=tid, agent_key=key)["tunnel_id"] != tid
        finally:
            n.close()
        assert "is back over a new link" not in d.proc.stderr()
    finally:
        holder.close()


CYCLES = 100


@pytest.mark.parametrize("mode", fk.MODES)
def test_kill9_with_requests_in_flight_many_times(stack, tmp_path, mode):
    """CYCLES times: ttf up (the same URL each time), three requests waiting for their answers,
    kill -9. Each client gets 502 within a second; no answer is another's; ttfd's fds and RSS
    are back to their baseline afterwards."""
    srv = stack.local()
    d = stack.ttfd("--state", str(tmp_path / "d.db"))
    env = {"XDG_STATE_HOME": str(tmp_path)}
    base = None
    url = None
    for i in range(CYCLES):
        a = tk.Ttf(d.endpoint(), srv.port, *fk.mode_args(mode), "--no-inspect", env=env)
        stack.add_proc(a.proc, expect_rc=None)
        url = url or a.url
        assert a.url == url, "cycle %d: another URL %s (was %s)" % (i, a.url, url)
        host = tk.sub_host(d, a.tunnel_id)
        r = tk.http(d.port, "GET", "/mine-%d" % i, host)
        assert r.status == 200 and b'"/mine-%d"' % i in r.body, (i, r.status, r.body[:200])
        if i == 5:  # warmed up
            fk.quiet(d.proc)
            base = fk.Baseline(ttfd=d.proc)
        before = srv.state.requests
        boxes = [in_flight(d.port, host, "/hang") for _ in range(3)]
        tk.wait_for(lambda: srv.state.requests >= before + 3, 10, "the requests under way")
        a.proc.kill()
        for b in boxes:
            b.thread.join(10 * tk.SLOW)
            assert b.result and b.result[0] == 502 and b.result[2] < 1 + tk.SLOW, (i, b.result)
    fk.quiet(d.proc)
    base.back(fd_slack=1, rss_slack_kb=fk.RSS_SLACK_CALM_KB, what="%d kills of ttf (%s)" % (CYCLES, mode))


PAUSE_BODY = 1 << 30  # an answer's declared length: far more than any buffer on the way


def pause_the_link(d, agent, host, ctx=None):
    """A JSON-mode agent without per-stream windows answers a client that reads nothing: once
    the answer fills ttfd's buffers for that client, ttfd stops reading the agent's link. The
    agent's sends stop going through (1 s without progress); the client's socket is returned."""
    slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", d.port))
    if ctx:
        slow = ctx.wrap_socket(slow, server_hostname="localhost")
    slow.sendall(tk.build_request("GET", "/big", host))
    m, _, _ = agent.recv_request()
    rid, piece = m["request_id"], os.urandom(192 << 10)
    agent.respond(rid, 200, {"content-length": [str(PAUSE_BODY)]}, piece, more=True)
    agent.c.sock.settimeout(1.0)
    try:
        for seq in range(1, PAUSE_BODY // len(piece)):
            agent.piece(rid, seq, piece, True)
    except socket.timeout:
        return slow
    raise AssertionError("ttfd read the whole answer: the link never paused")


def closed_within(agent, seconds):
    """Reads (and drops) what ttfd sent the agent until its close: the seconds that took, or
    None when the link is still open after seconds."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        agent.c.sock.settimeout(max(0.05, seconds - (time.monotonic() - t0)))
        try:
            if not agent.c.sock.recv(65536):
                return time.monotonic() - t0
        except ConnectionResetError:
            return time.monotonic() - t0
        except socket.timeout:
            break
    return None


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_a_silent_agent_is_timed_while_a_slow_client_pauses_its_link(stack, tmp_path, tls):
    """--agent-timeout 4, --send-timeout 20: an old-style JSON agent goes silent (no pong, no
    byte) while a client that reads nothing holds its link paused. ttfd closed the link only once
    --send-timeout had dropped the client and a whole --agent-timeout more had passed (34 s
    measured): silence was not counted while it did not read. Now the agent's silence counts
    whatever the clients do: nothing new from it, read or waiting in the socket, for the whole
    --agent-timeout closes the link."""
    args, ctx = ["--agent-timeout", "4", "--send-timeout", "20", "--state", ":memory:"], None
    if tls:
        import pki
        import ssl
        ca = pki.make_ca(tmp_path)
        cert, key = pki.make_server_cert(tmp_path, ca, "srv", ["localhost", "*.localhost"],
                                         ["127.0.0.1"])
        args += ["--tls-cert", str(cert), "--tls-key", str(key)]
        ctx = ssl.create_default_context(cafile=str(ca[2]))
    d = stack.ttfd(*args)
    dial = socket.create_connection(("127.0.0.1", d.port), timeout=10 * tk.SLOW)
    agent = ra.JsonAgent(d.port, sock=ctx.wrap_socket(dial, server_hostname="localhost")
                         if ctx else dial)
    slow = None
    try:
        tid = agent.ready()["tunnel_id"]
        slow = pause_the_link(d, agent, tk.sub_host(d, tid), ctx)
        took = closed_within(agent, 4 + 3 * tk.SLOW)  # four beats of 1 s, and one of slack
        assert took is not None, "the silent link still open 7 s into its silence"
        d.proc.wait_line(r"agent 127\.0\.0\.1: nothing from it for 4 s", 5, stream="err")
        print("silent agent's paused link closed %.2f s after its sends stopped" % (took + 1))
    finally:
        agent.close()
        if slow:
            slow.close()


def test_owner_back_while_its_silent_link_is_paused_gets_its_name(stack):
    """As test_owner_back_over_a_new_link_gets_its_name, with the old link paused by a client
    that reads nothing (an old-style JSON agent): the owner's new link did not get its id back
    (the old one was never judged silent while paused), and got a new one."""
    d = stack.ttfd("--agent-timeout", "8", "--send-timeout", "60", "--state", ":memory:")
    key = "owner-key-paused"
    old = ra.JsonAgent(d.port)
    slow = None
    try:
        tid = old.ready(agent_key=key)["tunnel_id"]
        slow = pause_the_link(d, old, tk.sub_host(d, tid))
        owner_back(d, ra.JsonAgent, tid, key)
    finally:
        old.close()
        if slow:
            slow.close()
