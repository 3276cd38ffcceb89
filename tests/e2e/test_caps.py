# SPDX-License-Identifier: MIT
"""ttfd's limits across agents.

- `--max-streams N`: at most N public requests in progress at once over all agents. A flood
  spread over several agents (each under its own --max-streams-per-agent) is bounded too: one more
  gets the per-agent limit's 503 at once (Retry-After: 1, "tunnel agent busy: try again"), logged
  `refused: server_busy` and counted in ttfd_requests_refused_total{reason="server_busy"}; as
  one ends, the next goes through. Both wire modes.
- `--max-connections N`: at most N connections (public and agents) open at once. At it ttfd
  closes the public connections that have waited longest for a request head (kept-alive idle
  ones at once, as nginx's ngx_drain_connections; new ones after a second of grace), so that
  idle clients cannot lock out an agent; when none can go it stops accepting, as HAProxy at
  maxconn: the next connection waits in the kernel's queue (no answer, no reset, no CPU spent)
  and is served as soon as one closes or can go. Slow heads and TLS handshakes at the cap:
  test_caps_slow.py."""

import os
import re
import socket
import time
import urllib.request

import pytest

import tunnelkit as tk
from scriptapp import ScriptApp
from test_stream_limit import Holds, quick  # /hold?N answered once released; /quick

AT_ONCE = 1.0 * tk.SLOW  # a refusal takes no wait


def app_with_holds(stack):
    holds = Holds()
    app = ScriptApp({"/hold": holds, "/quick": quick})
    stack.items.append(("server", app, None))
    stack.items.append(("server", type("R", (), {"close": lambda self: holds.stop.set()})(), None))
    return app, holds


def start_hold(port, host, n):
    c = tk.RawConn(port, timeout=30)
    c.send(b"GET /hold?%d HTTP/1.1\r\nHost: %s\r\n\r\n" % (n, host.encode()))
    return c


def refused_server_busy(admin_port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % admin_port,
                                timeout=10 * tk.SLOW) as r:
        text = r.read().decode()
    m = re.search(r'^ttfd_requests_refused_total\{reason="server_busy"\} (\d+)$', text, re.M)
    assert m, text
    return int(m.group(1))


@pytest.mark.parametrize("mode", ["binary", "json"])
def test_max_streams_bounds_requests_over_all_agents(stack, mode):
    app, holds = app_with_holds(stack)
    d = stack.ttfd("--max-streams", "3", "--admin", "127.0.0.1:0")
    a = stack.ttf(d.endpoint(), app.port, "--protocol", mode)
    b = stack.ttf(d.endpoint(), app.port, "--protocol", mode)
    ha, hb = tk.sub_host(d, a.tunnel_id), tk.sub_host(d, b.tunnel_id)
    held = [start_hold(d.port, ha, 0), start_hold(d.port, ha, 1), start_hold(d.port, hb, 2)]
    try:
        tk.wait_for(lambda: sum(x.startswith("/hold") for x in app.targets()) >= 3, 10 * tk.SLOW,
                    "3 holds")
        seen = len(app.targets())
        # each agent is far below its own limit (256): the server's is what refuses
        for host in (hb, ha):
            t0 = time.monotonic()
            r = tk.http(d.port, "GET", "/quick", host, timeout=10)
            took = time.monotonic() - t0
            assert r.status == 503, r.raw_head
            assert took < AT_ONCE, "the refusal took %.2f s" % took
            assert r.get("Retry-After") == "1"
            assert r.body == b"tunnel agent busy: try again\n"
        assert len(app.targets()) == seen  # none of them reached the local service
        d.proc.wait_line(r"GET /quick 503 .*refused: server_busy", 5, stream="err")
        d.proc.wait_line(r"--max-streams:", 5, stream="err")  # the warning names the flag
        assert refused_server_busy(d.admin_port) == 2
        # one ends (on agent A): a request through agent B goes through
        holds.release(0)
        r = held[0].read_response()
        assert r.status == 200 and r.body == b"held"
        tk.wait_for(lambda: tk.http(d.port, "GET", "/quick", hb, timeout=10).status == 200,
                    5 * tk.SLOW, "a place free again")
    finally:
        for c in held:
            c.close()


def test_the_default_stream_cap_is_in_help_and_the_start_line(stack):
    out = tk.run([tk.TTFD_BIN, "--help"]).stdout
    assert re.search(r"--max-streams N .*\n.*\(2000; 0: none\)", out), out
    assert "--max-connections N" in out
    d = stack.ttfd()
    d.proc.wait_line(r"at most 256 requests in progress per agent, 2000 in all, \d+ connections",
                     5, stream="err")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_max_connections_pauses_accepting_until_one_closes(stack):
    app, _ = app_with_holds(stack)
    # the agent's connection counts too: 1 agent + 2 public = 3
    d = stack.ttfd("--max-connections", "3", "--admin", "127.0.0.1:0")
    a = stack.ttf(d.endpoint(), app.port)
    host = tk.sub_host(d, a.tunnel_id)
    idle = []
    waiting = None
    try:
        for i in range(2):  # two public connections with a request in progress (no idle
            idle.append(start_hold(d.port, host, i))  # one would be closed to make room)
        tk.wait_for(lambda: sum(x.startswith("/hold") for x in app.targets()) >= 2, 10 * tk.SLOW,
                    "2 holds")
        d.proc.wait_line(r"3 connections open, ttfd's --max-connections", 5, stream="err")
        # the next one is not refused: it waits in the kernel's queue, unanswered
        waiting = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        waiting.sendall(b"GET /quick HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                        % host.encode())
        cpu0 = cpu_seconds(d.proc.pid)
        waiting.settimeout(1.0)
        with pytest.raises(socket.timeout):
            waiting.recv(1)
        # and ttfd does not spin meanwhile (an accept loop that fails or closes at once would)
        assert cpu_seconds(d.proc.pid) - cpu0 < 0.3
        # one connection leaves (a reset: a FIN would be a half-close, its answer still due):
        # the waiting one is served at once
        gone = idle.pop()
        gone.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        gone.close()
        waiting.settimeout(5 * tk.SLOW)
        data = b""
        while True:
            chunk = waiting.recv(65536)
            if not chunk:
                break
            data += chunk
        assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"quick"), data
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % d.admin_port,
                                    timeout=10 * tk.SLOW) as r:
            m = re.search(rb"^ttfd_accept_full_total (\d+)$", r.read(), re.M)
        assert m and int(m.group(1)) >= 1
    finally:
        for c in idle:
            c.close()
        if waiting:
            waiting.close()


def public_connections(admin_port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % admin_port,
                                timeout=10 * tk.SLOW) as r:
        m = re.search(rb"^ttfd_public_connections (\d+)$", r.read(), re.M)
    assert m
    return int(m.group(1))


def test_idle_public_clients_at_the_cap_make_room_for_an_agent(stack):
    """Public clients that open connections and send nothing fill --max-connections: a new or
    reconnecting agent waited in the kernel's queue behind them until the keep-alive time (60 s)
    closed some, its tunnel down meanwhile. ttfd now closes the oldest of them at the cap once
    they have had their second of grace (nginx's ngx_drain_connections closes idle ones): the
    agent gets in within a few seconds (the 29 queued ahead of it at this small cap take two
    rounds of grace), and its tunnel serves. No busy loop at the cap."""
    app, _ = app_with_holds(stack)
    d = stack.ttfd("--max-connections", "12", "--admin", "127.0.0.1:0")
    a = stack.ttf(d.endpoint(), app.port)
    flood = []
    try:
        for _ in range(40):  # far past the cap: idle, never a byte
            flood.append(socket.create_connection(("127.0.0.1", d.port), timeout=10))
        tk.wait_for(lambda: public_connections(d.admin_port) >= 10, 5 * tk.SLOW, "the cap full")
        cpu0 = cpu_seconds(d.proc.pid)
        time.sleep(1.0)
        spent = cpu_seconds(d.proc.pid) - cpu0
        assert spent < 0.1, "ttfd spent %.2f s of CPU in 1 s at the cap" % spent
        t0 = time.monotonic()
        b = stack.ttf(d.endpoint(), app.port, wait=False)  # an agent coming (back) at the cap
        b.wait_established(5 * tk.SLOW)  # (it waited for the keep-alive time: 60 s)
        took = time.monotonic() - t0
        r = tk.http(d.port, "GET", "/quick", tk.sub_host(d, b.tunnel_id), timeout=10)
        assert r.status == 200, r.raw_head
        r = tk.http(d.port, "GET", "/quick", tk.sub_host(d, a.tunnel_id), timeout=10)
        assert r.status == 200, r.raw_head
        closed = 0
        for c in flood:  # the oldest were closed to make room; the newest kept
            c.settimeout(0.05)
            try:
                closed += c.recv(1) == b""
            except socket.timeout:
                pass
        assert 40 - 11 <= closed < 40, closed
        print("agent registered %.3f s after it started at the cap; %d idle closed; ttfd CPU "
              "%.3f s in 1 s at the cap" % (took, closed, spent))
    finally:
        for c in flood:
            c.close()


# Stalled uploads and ttf's memory: test_hold_bursts.py (ttf's hold bounds them by window credit).


def test_a_tls_handshake_under_way_is_not_closed_as_idle_at_the_cap(stack, tmp_path):
    """A TLS client whose ClientHello ttfd answered, its Finished one round trip away (a slow
    link), is in the middle of its handshake, not idle: at --max-connections ttfd closed it as
    the oldest idle connection (nginx keeps a connection out of its reusable ones from the
    handshake's first octet). Connections kept alive between requests are closed instead (a
    handshake, like a head, has a second of grace: test_caps_slow.py), and the handshake
    completes and its request is served."""
    import ssl

    import pki
    ca = pki.make_ca(tmp_path)
    cert, key = pki.make_server_cert(tmp_path, ca, "srv", ["localhost", "tun.localhost",
                                                            "*.tun.localhost"], ["127.0.0.1"])
    app, _ = app_with_holds(stack)
    d = stack.ttfd("--max-connections", "4", "--admin", "127.0.0.1:0", "--domain",
                   "tun.localhost", "--tls-cert", str(cert), "--tls-key", str(key))
    a = stack.ttf("wss://localhost:%d/_tunnel" % d.port, app.port, "--ca-file", str(ca[2]))
    host = "%s.tun.localhost" % a.tunnel_id
    ctx = ssl.create_default_context(cafile=str(ca[2]))
    raw = socket.create_connection(("127.0.0.1", d.port), timeout=10 * tk.SLOW)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_hostname=host)

    def step():
        try:
            tls.do_handshake()
            return True
        except ssl.SSLWantReadError:
            return False
        finally:
            if out.pending:
                raw.sendall(out.read())

    assert not step()  # the ClientHello out
    while not inc.pending:  # ttfd's answer in: the client's Finished is all that is missing
        inc.write(raw.recv(65536))
    flood = []
    try:
        for _ in range(2):  # kept alive after a request: the cap reached, room made
            c = ctx.wrap_socket(socket.create_connection(("127.0.0.1", d.port), timeout=10),
                                server_hostname=host)
            flood.append(c)
            c.sendall(b"GET /quick HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode())
            got = b""
            while not got.endswith(b"quick"):
                got += c.recv(65536)
        tk.wait_for(lambda: sum(1 for c in flood if closed_by_peer(c)) >= 1, 5 * tk.SLOW,
                    "a kept-alive connection closed to make room")
        while not step():
            data = raw.recv(65536)
            assert data, "ttfd closed a connection in the middle of its TLS handshake"
            inc.write(data)
        tls.write(b"GET /quick HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host.encode())
        raw.sendall(out.read())
        got = b""
        while b"quick" not in got:
            data = raw.recv(65536)
            assert data, got
            inc.write(data)
            try:
                got += tls.read(65536)
            except ssl.SSLWantReadError:
                pass
        assert got.startswith(b"HTTP/1.1 200 "), got
    finally:
        raw.close()
        for c in flood:
            c.close()


def closed_by_peer(c):
    c.settimeout(0.01)
    try:
        return c.recv(1) == b""
    except (socket.timeout, ConnectionResetError):
        return False
