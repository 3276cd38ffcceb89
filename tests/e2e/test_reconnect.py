# SPDX-License-Identifier: MIT
"""ttf reconnects: ttfd restarted on the same port while ttf runs gives back the same URL;
ttf started before ttfd connects once it is up; a reconnection presents the secret that moves
its names from the connection it replaces."""

import datetime
import json
import re
import threading

import pytest

import rawagent as ra
import tunnelkit as tk
from fakettfd import FakeTtfd

FAILURE = r"(?i)(fail|refused|cannot connect|unreachable)"


def test_ttfd_restart_same_url(stack):
    srv = stack.local()
    d1 = stack.ttfd()
    port = d1.port
    a = stack.ttf(d1.endpoint(), srv.port)
    url, path_url, tid = a.url, a.path_url, a.tunnel_id
    host = tk.sub_host(d1, tid)
    assert tk.http(port, "GET", "/before", host).status == 200

    rc = d1.stop()
    assert rc == 0, "ttfd exited with %r after SIGTERM\n%s" % (rc, d1.proc.describe())
    assert a.proc.alive(), "ttf exited when the server went away\n%s" % a.proc.describe()

    d2 = stack.ttfd(listen="127.0.0.1:%d" % port)
    assert d2.port == port
    a.wait_established(15)
    assert a.url == url, "URL changed after reconnect: %s -> %s" % (url, a.url)
    assert a.path_url == path_url
    r = tk.http(port, "GET", "/after?x=1", host)
    assert r.status == 200, r.raw_head
    assert json.loads(r.body)["target"] == "/after?x=1"
    r = tk.http(port, "GET", "/%s/after" % tid, tk.path_host(d2))
    assert r.status == 200, r.raw_head


def test_ttf_waits_for_server(stack):
    srv = stack.local()
    port = tk.free_port()
    a = stack.ttf("ws://127.0.0.1:%d/_tunnel" % port, srv.port, wait=False)
    # ttf has tried (and failed) at least once before the server exists.
    tk.wait_for(lambda: a.proc.err_times(FAILURE), 10, "ttf to report the failed connection on stderr")
    assert a.proc.alive(), a.proc.describe()
    d = stack.ttfd(listen="127.0.0.1:%d" % port)
    a.wait_established(15)
    assert tk.http(port, "GET", "/late", tk.sub_host(d, a.tunnel_id)).status == 200


def attempt_times(proc):
    """When ttf reported each failed connection, by its own log timestamps (seconds): these do
    not depend on when the test's reader thread got to run."""
    out = []
    for line in proc.stderr().splitlines():
        m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z ttf WARN Connection to \S+ failed", line)
        if m:
            t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f")
            out.append(t.replace(tzinfo=datetime.timezone.utc).timestamp())
    return out


def test_reconnect_backoff_not_a_tight_loop(stack):
    """Failed connections are retried with a growing delay (1 s doubling, jitter: each delay
    between half and all of its nominal value)."""
    srv = stack.local()
    a = stack.ttf("ws://127.0.0.1:%d/_tunnel" % tk.free_port(), srv.port, wait=False)
    tk.wait_for(lambda: len(attempt_times(a.proc)) >= 4, 30, "four failed connection attempts")
    t = attempt_times(a.proc)
    gaps = [t[i + 1] - t[i] for i in range(3)]
    # Lower bounds only (a loaded machine makes gaps longer, never shorter); 1 ms of log rounding.
    for i, g in enumerate(gaps):
        assert g >= 0.5 * 2 ** i - 0.002, "retry %d after %.3f s, less than half of %d s: gaps %s" % (
            i + 1, g, 2 ** i, ["%.3f" % x for x in gaps])


@pytest.mark.parametrize("chosen", [False, True], ids=["id", "subdomain"])
def test_reconnect_presents_the_takeover_secret(stack, chosen):
    """A link that dies without a FIN stays held by the server (API Gateway until its 10 min
    idle time, ttfd until --agent-timeout): ttf's reconnection must move its name, not get a new
    one (it got a new id: the old URL answered 504 on the serverless back-end for 10 minutes).
    So its ready carries the secret of the connection it replaces and names the tunnel by its
    id (a chosen name too), as a move before the server's limit does."""
    srv = stack.local()
    fake = FakeTtfd()
    stack.closing(fake)
    extra = ["--subdomain", "fake"] if chosen else []
    a = stack.ttf(fake.endpoint, srv.port, "--protocol", "json", "--forget", *extra, wait=False)
    first = fake.accept({"takeover": "secret-of-the-first"})
    assert "takeover" not in first, first
    a.wait_established(15)
    fake.c.close()  # the first link ends; ttf reconnects
    again = fake.accept({"takeover": "secret-of-the-second"})
    assert again.get("takeover") == "secret-of-the-first", again
    assert again.get("tunnel_id") == "fake", again
    if chosen:
        assert again.get("subdomain") == "fake", again


def answer(agent):
    """The agent's first connection_established or tunnel_refused (other messages skipped)."""
    while True:
        op, data = agent.recv_ws()
        m = json.loads(data) if op == 1 else {}
        if m.get("type") in ("connection_established", "tunnel_refused"):
            return m


def served_by(d, agent, tunnel_id, mode):
    """A request to tunnel_id, answered by agent (from a thread): its status."""
    box = []
    t = threading.Thread(target=lambda: box.append(tk.http(d.port, "GET", "/m", tk.sub_host(
        d, tunnel_id), timeout=10).status), daemon=True)
    t.start()
    if mode == "binary":
        sid = agent.recv_request()[0]
        agent.respond(sid, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", b"ok")
    else:
        agent.respond(agent.recv_request()[0]["request_id"], 200, {}, b"ok")
    t.join(10 * tk.SLOW)
    return box[0] if box else None


@pytest.mark.parametrize("mode", ["binary", "json"])
def test_several_tunnels_move_to_the_new_link_with_the_secret(stack, mode):
    """ttf --config whose link died on its side first reconnects while ttfd still holds the old
    link, and presents that link's takeover secret for every tunnel. ttfd granted one-tunnel
    moves only: the tunnels waited (name_in_use for the chosen name, retried with backoff) until
    ttfd judged the old link silent or closed it (21 s with --agent-timeout 20; a single tunnel:
    1 s). All of them move at once now, requests go to the new link; a wrong secret moves none."""
    d = stack.ttfd("--state", ":memory:")
    Agent = ra.BinAgent if mode == "binary" else ra.JsonAgent
    name = "several-" + mode
    old, wrong, new = Agent(d.port), Agent(d.port), Agent(d.port)
    try:
        est = old.ready(agent_key="k", tunnels=[{"name": "web"}, {"name": "api", "subdomain": name}])
        ids = [t["tunnel_id"] for t in est["tunnels"]]
        assert ids[1] == name, est
        ask = {"type": "ready", "agent_key": "k", "tunnel_id": ids[0],
               "tunnels": [{"name": "web", "tunnel_id": ids[0]}, {"name": "api", "subdomain": name}]}
        wrong.send_json(dict(ask, takeover="0" * 64))
        m = answer(wrong)
        assert m["type"] == "tunnel_refused" and m["code"] == "name_in_use", m
        new.send_json(dict(ask, takeover=est["takeover"]))
        m = answer(new)
        assert m["type"] == "connection_established", m
        assert [t["tunnel_id"] for t in m["tunnels"]] == ids, m
        assert m["takeover"] != est["takeover"]
        for tid in ids:
            assert served_by(d, new, tid, mode) == 200
        d.proc.wait_line(r"tunnels? %s.* moved to a new connection" % ids[0], 5, stream="err")
    finally:
        for a in (old, wrong, new):
            a.close()
