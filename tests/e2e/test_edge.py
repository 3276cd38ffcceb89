# SPDX-License-Identifier: MIT
"""Access control at the edge (issue 16 "Access control before the agent"), with real ttfd, ttf
and local services, in both wire modes:

- `ttf --basic-auth USER:PASS`: 401 with WWW-Authenticate without or with wrong credentials, the
  local service sees nothing; with them the request passes and its Authorization field (which
  carried only the tunnel's credentials) is removed; a tunnel without a policy passes the app's
  own Authorization untouched;
- `--allow-cidr` / `--deny-cidr` (IPv4 and IPv6): 403, deny wins; the client is the TCP peer,
  X-Forwarded-For counts only behind `ttfd --trusted-proxy`;
- `--rate-limit N/m`: N requests per client address, then 429 with Retry-After, other clients
  unaffected;
- a policy ttfd cannot enforce is refused with tunnel_refused "access_invalid" and a reason;
  ttf checks its flags itself (exit 2) and stops when a server does not confirm the policy.
"""

import base64
import json
import os
import socket
import threading

import pytest

import tunnelkit as tk
from conftest import make_tunnel
from test_protocol import RawAgent

PASSWORD = "correct-horse-battery"


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def from_addr(port, source, method, target, host, headers=(), body=b"", dest="127.0.0.1"):
    """One request on a fresh connection from the local address `source`."""
    s = socket.create_connection((dest, port), timeout=20 * tk.SLOW, source_address=(source, 0))
    c = tk.RawConn(port, sock=s)
    try:
        return c.request(method, target, host, headers, body)
    finally:
        c.close()


def requests_seen(srv):
    with srv.state.lock:
        return srv.state.requests


@pytest.mark.parametrize("mode", ["binary", "json"])
def test_basic_auth(stack, mode):
    t = make_tunnel(stack, ttf_args=("--protocol", mode, "--basic-auth", "alice:" + PASSWORD))
    for host, target in ((t.host, "/x"), (t.phost, "/%s/x" % t.id)):
        r = tk.http(t.port, "GET", target, host)
        assert r.status == 401, r.raw_head
        assert r.get("WWW-Authenticate") == 'Basic realm="%s", charset="UTF-8"' % t.id, r.raw_head
        assert r.get("Cache-Control") == "no-store", r.raw_head  # the edge's own answer
        for wrong in (basic("alice", "wrong-password"), basic("bob", PASSWORD), "Bearer x",
                      basic("alice", PASSWORD)[:-2]):
            r = tk.http(t.port, "POST", target, host, [("Authorization", wrong)], b"secret body")
            assert r.status == 401, (wrong, r.raw_head)
    assert requests_seen(t.local) == 0, "a refused request reached the local service"
    r = tk.http(t.port, "GET", "/x", t.host, [("Authorization", basic("alice", PASSWORD))])
    assert r.status == 200, r.raw_head
    names = [n.lower() for n, _ in json.loads(r.body)["headers"]]
    assert "authorization" not in names, "the tunnel's credentials reached the local service"
    r = tk.http(t.port, "GET", "/%s/y" % t.id, t.phost,
                [("authorization", "basic " + basic("alice", PASSWORD).split()[1])])
    assert r.status == 200, r.raw_head
    assert requests_seen(t.local) == 2


@pytest.mark.parametrize("mode", ["binary", "json"])
def test_refusal_comes_before_100_continue(stack, mode):
    """A refused request gets no 100 Continue (JSON mode: ttfd's own; binary mode: the local
    service's through the agent) and its body is never asked for: the first answer is the 401."""
    t = make_tunnel(stack, ttf_args=("--protocol", mode, "--basic-auth", "alice:" + PASSWORD))
    c = tk.RawConn(t.port, timeout=20 * tk.SLOW)
    try:
        c.send(b"POST /upload HTTP/1.1\r\nHost: " + t.host.encode()
               + b"\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        head = c.read_until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 401 "), head
        assert b"\r\nconnection: close\r\n" in head.lower(), head
    finally:
        c.close()
    assert requests_seen(t.local) == 0, "a refused request reached the local service"


def test_authorization_untouched_without_policy(stack):
    t = make_tunnel(stack)
    r = tk.http(t.port, "GET", "/x", t.host, [("Authorization", basic("app", "user-secret"))])
    assert r.status == 200, r.raw_head
    got = [v for n, v in json.loads(r.body)["headers"] if n.lower() == "authorization"]
    assert got == [basic("app", "user-secret")]


@pytest.mark.parametrize("mode", ["binary", "json"])
def test_cidr(stack, mode):
    srv = stack.local()
    d = stack.ttfd()
    deny = stack.ttf(d.endpoint(), srv.port, "--protocol", mode, "--deny-cidr", "127.0.0.1/32")
    both = stack.ttf(d.endpoint(), srv.port, "--protocol", mode, "--allow-cidr", "127.0.0.0/8",
                     "--deny-cidr", "127.0.0.1")
    other = stack.ttf(d.endpoint(), srv.port, "--protocol", mode, "--allow-cidr", "10.0.0.0/8",
                      "--allow-cidr", "2001:db8::/32")
    xff = stack.ttf(d.endpoint(), srv.port, "--protocol", mode, "--allow-cidr", "203.0.113.0/24")
    for a, source in ((deny, "127.0.0.1"), (both, "127.0.0.1"), (other, "127.0.0.1"),
                      (other, "127.0.0.2"), (xff, "127.0.0.1")):
        r = from_addr(d.port, source, "GET", "/x", tk.sub_host(d, a.tunnel_id),
                      [("X-Forwarded-For", "203.0.113.9")])
        assert r.status == 403, (a.tunnel_id, source, r.raw_head)
        assert r.body.startswith(b"your address may not use this tunnel"), r.body
        assert r.get("Cache-Control") == "no-store", r.raw_head
    assert requests_seen(srv) == 0, "a refused request reached the local service"
    for a, source in ((deny, "127.0.0.2"), (both, "127.0.0.3")):
        r = from_addr(d.port, source, "GET", "/x", tk.sub_host(d, a.tunnel_id))
        assert r.status == 200, (a.tunnel_id, source, r.raw_head)
        assert json.loads(r.body)["client"] == "127.0.0.1"  # ttf's connection, of course
    assert requests_seen(srv) == 2


def test_cidr_ipv6(stack):
    srv = stack.local()
    d = stack.ttfd(listen="[::1]:0")
    deny = stack.ttf(d.endpoint(), srv.port, "--deny-cidr", "::1/128")
    allow = stack.ttf(d.endpoint(), srv.port, "--allow-cidr", "::1", "--deny-cidr", "127.0.0.0/8")
    v4only = stack.ttf(d.endpoint(), srv.port, "--allow-cidr", "0.0.0.0/0")
    host = lambda a: "%s.localhost:%d" % (a.tunnel_id, d.port)  # noqa: E731
    for a in (deny, v4only):
        r = from_addr(d.port, "::1", "GET", "/x", host(a), dest="::1")
        assert r.status == 403, r.raw_head
    assert requests_seen(srv) == 0
    r = from_addr(d.port, "::1", "GET", "/x", host(allow), dest="::1")
    assert r.status == 200, r.raw_head


def test_trusted_proxy(stack):
    srv = stack.local()
    d = stack.ttfd("--trusted-proxy", "127.0.0.1/32", "--trusted-proxy", "10.0.0.0/8")
    deny = stack.ttf(d.endpoint(), srv.port, "--deny-cidr", "203.0.113.0/24")
    allow = stack.ttf(d.endpoint(), srv.port, "--allow-cidr", "198.51.100.0/24")
    cases = [
        # (tunnel, TCP peer, X-Forwarded-For, status)
        (deny, "127.0.0.1", "203.0.113.5", 403),          # the proxy says: a denied client
        (deny, "127.0.0.1", "203.0.113.5, 10.1.1.1", 403),  # through two trusted proxies
        (deny, "127.0.0.1", "203.0.113.5, 198.51.100.7", 200),  # rightmost untrusted hop
        (allow, "127.0.0.1", "198.51.100.7", 200),
        (allow, "127.0.0.1", "10.9.9.9, garbage", 403),    # not an address: no network
        (allow, "127.0.0.2", "198.51.100.7", 403),         # not a trusted proxy: its XFF is ignored
        (deny, "127.0.0.2", "203.0.113.5", 200),
    ]
    for a, peer, xff, status in cases:
        r = from_addr(d.port, peer, "GET", "/x", tk.sub_host(d, a.tunnel_id),
                      [("X-Forwarded-For", xff)])
        assert r.status == status, (peer, xff, r.raw_head)
        if status == 200:
            got = [v for n, v in json.loads(r.body)["headers"] if n.lower() == "x-forwarded-for"]
            assert got == ["%s, %s" % (xff, peer)], got
    # the log line names the client, not the proxy
    d.proc.wait_line(r"GET /x 403 \d+ bytes \d+ ms \(203\.0\.113\.5\) tunnel %s refused: cidr"
                     % deny.tunnel_id, 5, stream="err")


@pytest.mark.parametrize("mode", ["binary", "json"])
def test_rate_limit(stack, mode):
    t = make_tunnel(stack, ttf_args=("--protocol", mode, "--rate-limit", "3/m"))
    for _ in range(3):
        r = tk.http(t.port, "GET", "/x", t.host)
        assert r.status == 200, r.raw_head
    for _ in range(2):
        r = tk.http(t.port, "GET", "/x", t.host)
        assert r.status == 429, r.raw_head
        assert 1 <= int(r.get("Retry-After")) <= 20, r.raw_head  # one token every 20 s
        assert r.get("Cache-Control") == "no-store", r.raw_head
    assert requests_seen(t.local) == 3, "a request over the limit reached the local service"
    r = from_addr(t.port, "127.0.0.2", "GET", "/x", t.host)  # another client: its own bucket
    assert r.status == 200, r.raw_head
    assert requests_seen(t.local) == 4


def test_bad_policy_refused(stack):
    d = stack.ttfd()
    cases = [({"allow_cidr": ["10.0.0.0/33"]}, "allow_cidr[0]: '10.0.0.0/33': prefix length"),
             ({"geo": ["FR"]}, "unknown field 'geo'"),
             ({"basic_auth": "alice:short"}, "password must have 8 to 256 bytes"),
             ({"rate_limit": {"requests": 0, "per_sec": 60}}, "rate_limit out of range"),
             ([1, 2], "access must be an object")]
    for access, why in cases:
        ag = RawAgent(d.port)
        try:
            assert ag.status == 101
            ag.send({"type": "ready", "access": access})
            m = ag.recv_type("connection_established", "tunnel_refused")
            assert m["type"] == "tunnel_refused" and m["code"] == "access_invalid", m
            assert why in m["message"], m
        finally:
            ag.close()
    # a policy ttfd enforces is confirmed
    ag = RawAgent(d.port)
    try:
        ag.send({"type": "ready", "access": {"deny_cidr": ["192.0.2.0/24"]}})
        m = ag.recv_type("connection_established", "tunnel_refused")
        assert m["type"] == "connection_established" and m.get("access_applied") is True, m
    finally:
        ag.close()
    ag = RawAgent(d.port)
    try:
        m = ag.ready()
        assert "access_applied" not in m, m  # nothing asked, nothing claimed
    finally:
        ag.close()


def test_takeover_carries_the_policy(stack):
    """A tunnel moved to the agent's new connection is served under the policy that connection
    sent (ttf sends the same one again), never without one."""
    d = stack.ttfd()
    a = RawAgent(d.port)
    b = RawAgent(d.port)
    try:
        a.send({"type": "ready", "access": {"allow_cidr": ["127.0.0.0/8"]}})
        est = a.recv_type("connection_established")
        assert est.get("access_applied") is True, est
        tid, secret = est["tunnel_id"], est["takeover"]
        b.send({"type": "ready", "tunnel_id": tid, "takeover": secret,
                "access": {"deny_cidr": ["127.0.0.1"]}})
        est2 = b.recv_type("connection_established")
        assert est2["tunnel_id"] == tid and est2.get("access_applied") is True, est2
        r = tk.http(d.port, "GET", "/x", tk.sub_host(d, tid))
        assert r.status == 403, r.raw_head  # b's policy, not a's (nor none)
        c = RawAgent(d.port)
        try:  # a bad policy is refused before any move
            c.send({"type": "ready", "tunnel_id": tid, "takeover": est2["takeover"],
                    "access": {"allow_cidr": ["x"]}})
            m = c.recv_type("connection_established", "tunnel_refused")
            assert m["type"] == "tunnel_refused" and m["code"] == "access_invalid", m
        finally:
            c.close()
        assert tk.http(d.port, "GET", "/x", tk.sub_host(d, tid)).status == 403
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("args,why", [
    (("--allow-cidr", "300.1.1.1/8"), "invalid --allow-cidr"),
    (("--deny-cidr", "10.0.0.0/33"), "prefix length out of range"),
    (("--basic-auth", "alice"), "USER:PASSWORD"),
    (("--rate-limit", "5/week"), "invalid --rate-limit"),
])
def test_ttf_flags_checked(args, why):
    p = tk.Proc("ttf", [tk.TTF_BIN, "-e", "ws://127.0.0.1:1/_tunnel", "-p", "1"] + list(args))
    try:
        assert p.wait_exit(10) == 2, p.describe()
        assert why in p.stderr(), p.describe()
    finally:
        p.stop()


class NoAccessServer:
    """A server that speaks the handshake but knows nothing of access control: it answers
    ready with connection_established (no access_applied) and at once sends a request."""

    def __init__(self):
        self.lis = socket.socket()
        self.lis.bind(("127.0.0.1", 0))
        self.lis.listen(1)
        self.port = self.lis.getsockname()[1]
        self.ready = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        self.lis.settimeout(20 * tk.SLOW)
        conn, _ = self.lis.accept()
        c = tk.RawConn(0, sock=conn)
        head = c.read_until(b"\r\n\r\n").decode("latin-1")
        key = [ln.split(":", 1)[1].strip() for ln in head.split("\r\n")
               if ln.lower().startswith("sec-websocket-key:")][0]
        c.send(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: ttf.json.v1\r\n\r\n"
                % tk.ws_accept(key)).encode())
        op, _, payload = tk.ws_read_message(c.read_exact)
        self.ready = json.loads(payload)
        est = {"type": "connection_established", "connection_id": "c", "tunnel_id": "abcdefabcdef",
               "public_url": "http://abcdefabcdef.localhost"}
        req = {"type": "http_request", "request_id": "r1", "method": "GET", "uri": "/leak",
               "headers": {}, "body": "", "timestamp": 0}
        c.send(tk.ws_frame(1, json.dumps(est).encode(), mask=False) +
               tk.ws_frame(1, json.dumps(req).encode(), mask=False))
        try:
            while True:
                tk.ws_read_message(c.read_exact)
        except (EOFError, OSError):
            pass
        conn.close()

    def close(self):
        self.lis.close()
        self.thread.join(5)


def test_ttf_stops_when_the_server_does_not_confirm(stack):
    srv = stack.local()
    fake = NoAccessServer()
    try:
        a = stack.ttf("ws://127.0.0.1:%d/_tunnel" % fake.port, srv.port, "--protocol", "json",
                      "--basic-auth", "alice:" + PASSWORD, wait=False, expect_rc=1)
        assert a.proc.wait_exit(20) == 1, a.proc.describe()
        assert "did not confirm the access control" in a.proc.stderr(), a.proc.describe()
        assert "Tunnel established" not in a.proc.stdout(), a.proc.describe()
        assert fake.ready["access"] == {"basic_auth": "alice:" + PASSWORD}, fake.ready
        assert requests_seen(srv) == 0, "a request reached the local service unprotected"
    finally:
        fake.close()


def test_basic_auth_from_environment(stack):
    srv = stack.local()
    d = stack.ttfd()
    a = stack.ttf(d.endpoint(), srv.port, env={"TUNNEL_BASIC_AUTH": "env:" + PASSWORD})
    assert PASSWORD not in " ".join(a.proc.argv)
    assert tk.http(d.port, "GET", "/", tk.sub_host(d, a.tunnel_id)).status == 401
    r = tk.http(d.port, "GET", "/", tk.sub_host(d, a.tunnel_id),
                [("Authorization", basic("env", PASSWORD))])
    assert r.status == 200, r.raw_head
    assert PASSWORD not in a.proc.stderr() + d.proc.stderr(), "the password was logged"
    assert os.environ.get("TUNNEL_BASIC_AUTH") is None
