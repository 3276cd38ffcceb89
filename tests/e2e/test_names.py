# SPDX-License-Identifier: MIT
"""Tunnel names that survive restarts (issue 12 item 3, issue 16 "Chosen names"), with real ttfd
and ttf processes, a real SQLite state file and real restarts of both:

- with --require-auth, a tunnel id belongs to its token's subject across a ttfd restart: another
  subject asking for it first gets a fresh id and is told why, the owner gets it back;
- `ttf --subdomain NAME` is granted, routed by subdomain and by path, refused with a clear
  reason (exit 1) when another agent holds it or another subject owns it, refused before
  connecting when it is not a DNS label or reserved (exit 2);
- without auth, a disconnected agent's name is held for it (its agent key) during the grace
  period, so nobody else takes it mid-reconnect;
- restarting ttf (its XDG state directory kept) keeps the URL, also across a ttfd restart.
"""

import json
import time

import jwt

import tunnelkit as tk
from test_protocol import RawAgent

SECRET = "names-secret-0123456789abcdef0123456"


def tok(sub):
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + 600}, SECRET, algorithm="HS256")


def hello(agent, **fields):
    """Send ready with fields; the answer (connection_established or tunnel_refused)."""
    agent.send(dict({"type": "ready"}, **fields))
    return agent.recv_type("connection_established", "tunnel_refused")


def reaches(d, srv, name, target="/hello"):
    """A public request to tunnel `name` by subdomain and by path reaches srv."""
    r = tk.http(d.port, "GET", target, tk.sub_host(d, name))
    assert r.status == 200, r.raw_head
    assert json.loads(r.body)["target"] == target
    r = tk.http(d.port, "GET", "/%s%s" % (name, target), tk.path_host(d))
    assert r.status == 200, r.raw_head
    body = json.loads(r.body)
    assert body["target"] == target
    prefix = [v for n, v in body["headers"] if n.lower() == "x-forwarded-prefix"]
    assert prefix == ["/" + name], body["headers"]


def refused_ttf(stack, d, srv, *args, env=None, rc=1):
    a = stack.ttf(d.endpoint(), srv.port, *args, wait=False, expect_rc=rc, env=env)
    code = a.proc.wait_exit(20)
    assert code == rc, "ttf exit code %r, expected %r\n%s" % (code, rc, a.proc.describe())
    assert "Tunnel established" not in a.proc.stdout(), a.proc.describe()
    assert "reconnecting" not in a.proc.stderr().lower(), a.proc.describe()
    return a


def auth_ttfd(stack, state, port=0):
    return stack.ttfd("--require-auth", "--jwt-secret", SECRET, "--state", str(state),
                      listen="127.0.0.1:%d" % port)


def test_owner_survives_ttfd_restart(stack, tmp_path):
    """Issue 12.3: after a restart, another subject asking first does not get alice's id."""
    srv = stack.local()
    state = tmp_path / "ttfd.db"
    d1 = auth_ttfd(stack, state)
    port = d1.port
    alice_home = tmp_path / "alice"
    alice_home.mkdir()
    alice_env = {"XDG_STATE_HOME": str(alice_home)}
    a = stack.ttf(d1.endpoint(), srv.port, "-t", tok("alice"), env=alice_env)
    tid = a.tunnel_id
    assert a.stop() == 0
    assert d1.stop() == 0, d1.proc.describe()

    d2 = auth_ttfd(stack, state, port)
    # mallory asks first, as a remembered id: a fresh id, and the reason
    m = RawAgent(port, tok("mallory"))
    try:
        assert m.status == 101
        est = hello(m, tunnel_id=tid, agent_key="mallory-key-0123456789")
        assert est["type"] == "connection_established", est
        assert est["tunnel_id"] != tid, "mallory was given alice's tunnel id after the restart"
        assert "belongs to another user" in est.get("message", ""), est
    finally:
        m.close()
    # ... and by name: refused, ttf stops with the reason
    b = refused_ttf(stack, d2, srv, "-t", tok("mallory"), "--subdomain", tid)
    assert "belongs to another user" in b.proc.stderr(), b.proc.describe()
    assert tk.http(port, "GET", "/x", tk.sub_host(d2, tid)).status == 404

    # alice's ttf, restarted with its state, gets its id back: same URL
    a2 = stack.ttf(d2.endpoint(), srv.port, "-t", tok("alice"), env=alice_env)
    assert a2.tunnel_id == tid, a2.proc.describe()
    reaches(d2, srv, tid)


def test_chosen_name_granted_and_routed(stack):
    srv = stack.local()
    d = stack.ttfd()
    a = stack.ttf(d.endpoint(), srv.port, "--subdomain", "My-App")
    assert a.tunnel_id == "my-app"
    assert a.url == "http://my-app.localhost:%d" % d.port
    assert a.path_url == "http://localhost:%d/my-app" % d.port
    reaches(d, srv, "my-app", "/todos?x=1")
    # the name is case-insensitive in a Host header, lower case in a path
    r = tk.http(d.port, "GET", "/", "MY-APP.LocalHost:%d" % d.port)
    assert r.status == 200, r.raw_head
    assert tk.http(d.port, "GET", "/MY-APP/", tk.path_host(d)).status == 404


def test_chosen_name_in_use_refused(stack):
    srv = stack.local()
    d = stack.ttfd()
    stack.ttf(d.endpoint(), srv.port, "--subdomain", "demo")
    b = refused_ttf(stack, d, srv, "--subdomain", "demo")
    err = b.proc.stderr()
    assert "subdomain 'demo' is in use by another agent" in err, b.proc.describe()


def test_chosen_name_rules(stack):
    srv = stack.local()
    d = stack.ttfd()
    # refused by ttf itself: a usage error, before any connection
    for bad, why in (("www", "reserved"), ("-x", "hyphen"), ("a.b", "letters"),
                     ("x" * 64, "63"), ("xn--80ak6aa92e", "reserved")):
        a = refused_ttf(stack, d, srv, "--subdomain", bad, rc=2)
        assert why in a.proc.stderr(), a.proc.describe()
    # and by ttfd, for agents that do not check
    for bad in ("www", "Admin", "-x", "a_b", "x" * 64, ""):
        r = RawAgent(d.port)
        try:
            m = hello(r, subdomain=bad)
            assert m["type"] == "tunnel_refused", (bad, m)
            assert m["code"] == "name_invalid", m
            assert "not allowed" in m["message"]
        finally:
            r.close()


def test_chosen_name_with_auth_survives_restarts(stack, tmp_path):
    """A name belongs to its subject across restarts of ttf and ttfd."""
    srv = stack.local()
    state = tmp_path / "ttfd.db"
    d1 = auth_ttfd(stack, state)
    port = d1.port
    a = stack.ttf(d1.endpoint(), srv.port, "-t", tok("alice"), "--subdomain", "shop")
    reaches(d1, srv, "shop")
    # another subject while alice is connected, and after she left
    b = refused_ttf(stack, d1, srv, "-t", tok("bob"), "--subdomain", "shop")
    assert "in use" in b.proc.stderr(), b.proc.describe()
    assert a.stop() == 0
    b = refused_ttf(stack, d1, srv, "-t", tok("bob"), "--subdomain", "shop")
    assert "subdomain 'shop' belongs to another user" in b.proc.stderr(), b.proc.describe()
    assert d1.stop() == 0

    d2 = auth_ttfd(stack, state, port)
    b = refused_ttf(stack, d2, srv, "-t", tok("bob"), "--subdomain", "shop")
    assert "belongs to another user" in b.proc.stderr(), b.proc.describe()
    a2 = stack.ttf(d2.endpoint(), srv.port, "-t", tok("alice"), "--subdomain", "shop")
    assert a2.url == "http://shop.localhost:%d" % port
    reaches(d2, srv, "shop")
    # bob gets names of his own
    b2 = stack.ttf(d2.endpoint(), srv.port, "-t", tok("bob"), "--subdomain", "bobs-shop")
    assert b2.tunnel_id == "bobs-shop"


def test_grace_without_auth(stack, tmp_path):
    """Without auth, a name is held for the agent that had it (its agent key)."""
    srv = stack.local()
    d = stack.ttfd("--reconnect-grace", "600")
    home = tmp_path / "agent"
    home.mkdir()
    env = {"XDG_STATE_HOME": str(home)}
    a = stack.ttf(d.endpoint(), srv.port, "--subdomain", "blog2", env=env)
    a.proc.kill()  # a crash: no goodbye
    stack.expect(a.proc, None)
    tk.wait_for(lambda: tk.http(d.port, "GET", "/", tk.sub_host(d, "blog2")).status == 404, 10,
                "ttfd to notice the agent is gone")
    # someone else, by name or as an id: refused / a fresh id, while the grace period runs
    b = refused_ttf(stack, d, srv, "--subdomain", "blog2")
    assert "held for the agent that had it" in b.proc.stderr(), b.proc.describe()
    r = RawAgent(d.port)
    try:
        m = hello(r, tunnel_id="blog2", agent_key="another-agent-key-0123456789")
        assert m["type"] == "connection_established" and m["tunnel_id"] != "blog2", m
    finally:
        r.close()
    # the agent itself, restarted with its state (same key), gets it back
    a2 = stack.ttf(d.endpoint(), srv.port, "--subdomain", "blog2", env=env)
    assert a2.tunnel_id == "blog2"
    reaches(d, srv, "blog2")


def test_held_name_refusal_says_the_key_is_per_local_service(stack, tmp_path):
    """ttf restarted with the same local service written another way (`--host localhost`
    after 127.0.0.1) has another agent key (one per endpoint and local service) and was told
    only that its name "is held for the agent that had it": the newcomer could not tell that
    agent was itself. The refusal now says how the key is chosen."""
    srv = stack.local()
    d = stack.ttfd("--reconnect-grace", "600")
    env = {"XDG_STATE_HOME": str(tmp_path)}
    a = stack.ttf(d.endpoint(), srv.port, "--subdomain", "blog3", env=env)
    assert a.stop() == 0
    b = refused_ttf(stack, d, srv, "--subdomain", "blog3", "--host", "localhost", env=env)
    err = b.proc.stderr()
    assert "held for the agent that had it" in err, b.proc.describe()
    assert "one per endpoint and local service" in err, b.proc.describe()
    a2 = stack.ttf(d.endpoint(), srv.port, "--subdomain", "blog3", env=env)  # as before: its own
    assert a2.tunnel_id == "blog3"


def test_a_second_ttf_is_not_told_the_first_ones_url_is_gone(stack, tmp_path):
    """A second ttf for the same local service (the same state) asks for the first one's id,
    gets a new one, and said "the previous URL (id X) is gone" while X still worked for the
    first ttf. It now says that URL no longer reaches this ttf, and the first one still serves."""
    srv = stack.local()
    d = stack.ttfd()
    env = {"XDG_STATE_HOME": str(tmp_path)}
    a = stack.ttf(d.endpoint(), srv.port, env=env)
    b = stack.ttf(d.endpoint(), srv.port, env=env)
    assert b.tunnel_id != a.tunnel_id
    b.proc.wait_line(r"tunnel id '%s' is in use by another agent" % a.tunnel_id, 5, stream="err")
    b.proc.wait_line(r"the previous URL \(id %s\) no longer reaches this ttf$" % a.tunnel_id, 5,
                     stream="err")
    assert "is gone" not in b.proc.stderr(), b.proc.describe()
    reaches(d, srv, a.tunnel_id)


def test_ttf_restart_keeps_url(stack, tmp_path):
    """Without --subdomain, ttf asks for its last id again: restarting ttf, then ttfd and ttf,
    keeps the URL; another endpoint or local port is another record."""
    srv, srv2 = stack.local(), stack.local()
    state = tmp_path / "ttfd.db"
    d1 = stack.ttfd("--state", str(state))
    port = d1.port
    home = tmp_path / "agent"
    home.mkdir()
    env = {"XDG_STATE_HOME": str(home)}
    a = stack.ttf(d1.endpoint(), srv.port, env=env)
    url = a.url
    assert a.stop() == 0
    a = stack.ttf(d1.endpoint(), srv.port, env=env)
    assert a.url == url, "restarting ttf changed the URL"
    other = stack.ttf(d1.endpoint(), srv2.port, env=env)
    assert other.url != url
    assert a.stop() == 0 and other.stop() == 0
    assert d1.stop() == 0
    d2 = stack.ttfd("--state", str(state), listen="127.0.0.1:%d" % port)
    a = stack.ttf(d2.endpoint(), srv.port, env=env)
    assert a.url == url, "restarting ttfd and ttf changed the URL"
    reaches(d2, srv, a.tunnel_id)
    # --forget: neither asks for nor records it
    assert a.stop() == 0
    f = stack.ttf(d2.endpoint(), srv.port, "--forget", env=env)
    assert f.url != url
    assert f.stop() == 0
    a = stack.ttf(d2.endpoint(), srv.port, env=env)
    assert a.url == url


def test_second_ttfd_on_same_state_refused(stack, tmp_path):
    state = tmp_path / "ttfd.db"
    stack.ttfd("--state", str(state))
    p = tk.Proc("ttfd", [tk.TTFD_BIN, "--listen", "127.0.0.1:0", "--state", str(state)])
    stack.add_proc(p, expect_rc=1)
    assert p.wait_exit(15) == 1, p.describe()
    # and what to do about it: the newcomer's second ttfd on another port met this first
    assert "in use by another ttfd (a second ttfd needs its own: --state FILE" in p.stderr(), \
        p.describe()
