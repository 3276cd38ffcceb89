# SPDX-License-Identifier: MIT
"""Several tunnels, one agent (issue 16): `ttf --config FILE` with real ttfd, ttf and two local
apps, in both wire modes:

- each public URL (subdomain and path form) reaches its own app only: many interleaved requests
  to both tunnels at once, each with its own tag, come back from the right app with their own tag
  (tags never cross), and each app counts exactly the requests meant for it;
- per-tunnel options apply per tunnel (host_header rewrite on one, the public Host on the
  other; basic_auth and allow_cidr on one tunnel gate that tunnel only, at ttfd); ttf prints
  every URL; the inspector's API names the tunnel of each exchange;
- a chosen name another agent holds refuses the whole ready (ngrok's behaviour: the agent does
  not start with a tunnel missing): ttf exits 1 naming the tunnel, the other agent keeps its
  tunnel, and the name the refused agent had claimed for its other tunnel is free again;
- a bad config file (or a bad combination with the command line) is a usage error: exit 2 and
  a message naming the file, line and key, before any connection.
"""

import json
import os
import re
import threading
import urllib.request

import pytest

import tunnelkit as tk

MODES = ["binary", "json"]


class MultiTtf:
    """ttf --config; its tunnels' URLs from the "Tunnel NAME: URL -> http://LOCAL" lines."""

    LINE = r"^Tunnel ([A-Za-z0-9_.-]+): (https?://(\S+?)\.localhost:\d+) -> http://(\S+)$"

    def __init__(self, stack, endpoint, config, *extra, expect_rc=0, wait=True, env=None):
        argv = [tk.TTF_BIN, "-e", endpoint, "--config", config] + list(extra)
        self.proc = stack.add_proc(tk.Proc("ttf", argv, env=env), expect_rc=expect_rc)
        self.tunnels = {}
        self.next_line = 0
        if wait:
            self.wait(2)

    def wait(self, n, timeout=15):
        """The next n "Tunnel NAME:" lines (one session's)."""
        self.tunnels = {}
        while len(self.tunnels) < n:
            m, i = self.proc.wait_line(MultiTtf.LINE, timeout, start=self.next_line)
            self.tunnels[m.group(1)] = {"url": m.group(2), "id": m.group(3), "local": m.group(4)}
            self.next_line = i + 1
        return self.tunnels


def echo(port, host, target):
    r = tk.http(port, "GET", target, host)
    assert r.status == 200, r.raw_head
    return json.loads(r.body)


@pytest.mark.parametrize("mode", MODES)
def test_each_url_reaches_its_own_app(stack, mode):
    web, api = stack.local(), stack.local()
    d = stack.ttfd()
    cfg = tk.write_config(
        "version: 2\n"
        "protocol: %s\n"
        "tunnels:\n"
        "  web:\n"
        "    addr: %d\n"
        "    subdomain: multi-web-%s\n"
        "    host_header: rewrite\n"
        "  api:\n"
        "    addr: http://127.0.0.1:%d\n" % (mode, web.port, mode, api.port))
    try:
        a = MultiTtf(stack, d.endpoint(), cfg)
    finally:
        os.unlink(cfg)
    t = a.tunnels
    assert set(t) == {"web", "api"}
    assert t["web"]["id"] == "multi-web-%s" % mode
    assert t["web"]["local"] == "127.0.0.1:%d" % web.port
    assert t["api"]["local"] == "127.0.0.1:%d" % api.port
    assert re.fullmatch(r"[a-z0-9]{12}", t["api"]["id"]), t
    assert a.proc.wait_line(r"2 tunnels established \(%s mode" % mode, 5, stream="err")
    hosts = {name: tk.sub_host(d, t[name]["id"]) for name in t}
    apps = {"web": web, "api": api}

    # per-tunnel options: web rewrites Host to its local address, api passes the public one
    doc = echo(d.port, hosts["web"], "/host-check")
    assert dict(doc["headers"])["Host"] == "127.0.0.1:%d" % web.port
    doc = echo(d.port, hosts["api"], "/host-check")
    assert dict(doc["headers"])["Host"] == hosts["api"]
    # the path form reaches the same app
    r = tk.http(d.port, "GET", "/%s/by-path" % t["api"]["id"], tk.path_host(d))
    assert r.status == 200 and json.loads(r.body)["local_port"] == api.port, r.raw_head

    before = {name: apps[name].state.requests for name in apps}
    errors = []
    per_tunnel = 40

    def client(name, k):
        try:
            for i in range(k, per_tunnel, 4):
                tag = "%s-%d" % (name, i)
                doc = echo(d.port, hosts[name], "/tag/%s?t=%s" % (tag, tag))
                if doc["local_port"] != apps[name].port or doc["target"] != "/tag/%s?t=%s" % (
                        tag, tag):
                    errors.append((name, tag, doc["local_port"], doc["target"]))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append((name, k, repr(e)))

    threads = [threading.Thread(target=client, args=(name, k)) for name in apps for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60 * tk.SLOW)
    assert not any(th.is_alive() for th in threads), "clients did not finish"
    assert errors == [], errors[:5]
    for name in apps:
        assert apps[name].state.requests - before[name] == per_tunnel, name

    # the inspector names each exchange's tunnel
    m, _ = a.proc.wait_line(r"^Inspector: (http://\S+)$", 5)
    with urllib.request.urlopen(m.group(1) + "/api/requests?limit=200", timeout=10) as resp:
        reqs = json.load(resp)["requests"]
    tagged = [r for r in reqs if r["target"].startswith("/tag/")]
    assert len(tagged) == 2 * per_tunnel
    for r in tagged:
        assert r["target"].startswith("/tag/%s-" % r["tunnel"]), r
    with urllib.request.urlopen(m.group(1) + "/api/status", timeout=10) as resp:
        st = json.load(resp)
    assert [(u["name"], u["public_url"]) for u in st["tunnels"]] == [
        ("web", t["web"]["url"]), ("api", t["api"]["url"])]


@pytest.mark.parametrize("mode", MODES)
def test_only_the_named_tunnels_start(stack, mode):
    """`ttf --config FILE api` starts api only; web's URL is not served."""
    web, api = stack.local(), stack.local()
    d = stack.ttfd()
    cfg = tk.write_config("tunnels:\n  web: {addr: %d, subdomain: only-web-%s}\n"
                       "  api: {addr: %d, subdomain: only-api-%s}\n"
                       % (web.port, mode, api.port, mode))
    try:
        a = MultiTtf(stack, d.endpoint(), cfg, "--protocol", mode, "api", wait=False)
        a.wait(1)
    finally:
        os.unlink(cfg)
    assert list(a.tunnels) == ["api"]
    assert echo(d.port, tk.sub_host(d, "only-api-%s" % mode), "/x")["local_port"] == api.port
    r = tk.http(d.port, "GET", "/x", tk.sub_host(d, "only-web-%s" % mode))
    assert r.status == 404, r.raw_head
    assert web.state.requests == 0


@pytest.mark.parametrize("mode", MODES)
def test_name_conflict_on_one_tunnel(stack, mode):
    """Another agent holds the name tunnel `api` asks for: the whole ready is refused (exit 1,
    the message names the tunnel), the holder is untouched, and `web`'s claimed name is free
    again at once (no grace hold for a session that never started)."""
    holder_app, web, api = stack.local(), stack.local(), stack.local()
    d = stack.ttfd()
    holder = stack.ttf(d.endpoint(), holder_app.port, "--subdomain", "taken-%s" % mode)
    cfg = tk.write_config("tunnels:\n  web: {addr: %d, subdomain: free-%s}\n"
                       "  api: {addr: %d, subdomain: taken-%s}\n"
                       % (web.port, mode, api.port, mode))
    try:
        b = MultiTtf(stack, d.endpoint(), cfg, "--protocol", mode, expect_rc=1, wait=False)
        rc = b.proc.wait_exit(20)
    finally:
        os.unlink(cfg)
    assert rc == 1, b.proc.describe()
    err = b.proc.stderr()
    assert "tunnel api: subdomain 'taken-%s' is in use by another agent" % mode in err, err
    assert "Tunnel web:" not in b.proc.stdout()
    # the holder still serves its tunnel
    assert echo(d.port, tk.sub_host(d, "taken-%s" % mode), "/still")["local_port"] == \
        holder_app.port
    # nothing was left of the refused session: its web name is free for anybody
    r = tk.http(d.port, "GET", "/x", tk.sub_host(d, "free-%s" % mode))
    assert r.status == 404, r.raw_head
    other = stack.ttf(d.endpoint(), web.port, "--subdomain", "free-%s" % mode)
    assert other.tunnel_id == "free-%s" % mode
    assert echo(d.port, tk.sub_host(d, "free-%s" % mode), "/y")["local_port"] == web.port
    assert holder.proc.alive()


@pytest.mark.parametrize("mode", MODES)
def test_access_per_tunnel(stack, mode):
    """Each tunnel has its own gate at ttfd: basic_auth on `web` asks for the password there
    (401 with WWW-Authenticate, the app never sees the refused request), deny_cidr on `admin`
    refuses loopback (403), and `api` without a policy is open."""
    web, api, admin = stack.local(), stack.local(), stack.local()
    d = stack.ttfd()
    cfg = tk.write_config(
        "tunnels:\n"
        "  web: {addr: %d, subdomain: acc-web-%s, basic_auth: \"ann:s3cret-pass\"}\n"
        "  api: {addr: %d, subdomain: acc-api-%s}\n"
        "  admin:\n"
        "    addr: %d\n"
        "    subdomain: acc-admin-%s\n"
        "    ip_restriction: {deny_cidrs: [127.0.0.0/8]}\n"
        % (web.port, mode, api.port, mode, admin.port, mode))
    try:
        a = MultiTtf(stack, d.endpoint(), cfg, "--protocol", mode, wait=False)
        a.wait(3)
    finally:
        os.unlink(cfg)
    a.proc.wait_line(r"Access control at the server for tunnel web: basic auth", 5, stream="err")
    r = tk.http(d.port, "GET", "/w", tk.sub_host(d, "acc-web-%s" % mode))
    assert r.status == 401, r.raw_head
    assert r.get("WWW-Authenticate"), r.raw_head
    assert web.state.requests == 0
    cred = "Basic " + __import__("base64").b64encode(b"ann:s3cret-pass").decode()
    r = tk.http(d.port, "GET", "/w", tk.sub_host(d, "acc-web-%s" % mode),
                headers=[("Authorization", cred)])
    assert r.status == 200 and json.loads(r.body)["local_port"] == web.port, r.raw_head
    assert echo(d.port, tk.sub_host(d, "acc-api-%s" % mode), "/a")["local_port"] == api.port
    r = tk.http(d.port, "GET", "/x", tk.sub_host(d, "acc-admin-%s" % mode))
    assert r.status == 403, r.raw_head
    assert admin.state.requests == 0


BAD_CONFIGS = [
    ("tunnels:\n  web:\n    addr: 3000\n    adr: 4000\n", r"\.yml:4:5: tunnels\.web\.adr: unknown key"),
    ("tunnels:\n  web:\n    addr: 99999\n", r"\.yml:3:11: tunnels\.web\.addr: invalid port"),
    ("tunnels:\n  web:\n    subdomain: x\n", r"\.yml:3:5: tunnels\.web: addr is missing"),
    ("tunnels: [\n", r"\.yml:\d+:\d+: not valid YAML"),
    ("endpoint: ws://x\n", r"\.yml:1:1: no tunnels: section"),
    ("tunnels:\n  a: {addr: 1}\n  a: {addr: 2}\n", r"\.yml:3:3: tunnels: 'a' is given twice"),
    ("tunnels:\n  a:\n    addr: 1\n    allow_cidr: [10.0.0.0/33]\n",
     r"\.yml:4:17: tunnels\.a\.allow_cidr: '10\.0\.0\.0/33'"),
    ("tunnels:\n  a: {addr: 1, rate_limit: fast}\n", r"\.yml:2:28: tunnels\.a\.rate_limit: 'fast'"),
]


@pytest.mark.parametrize("text,want", BAD_CONFIGS)
def test_bad_config_file_is_a_usage_error(stack, text, want):
    cfg = tk.write_config(text)
    try:
        p = stack.add_proc(tk.Proc("ttf", [tk.TTF_BIN, "-e", "ws://127.0.0.1:9/_tunnel",
                                           "--config", cfg]), expect_rc=2)
        rc = p.wait_exit(10)
    finally:
        os.unlink(cfg)
    assert rc == 2, p.describe()
    err = p.stderr()
    assert re.search(want, err), err
    assert err.startswith("ttf: " + cfg), err  # names the file first
    assert "Connecting" not in err and "WebSocket" not in err


@pytest.mark.parametrize("extra,want", [
    (["--config", "/nonexistent/ttf.yml"], "cannot read the config file /nonexistent/ttf.yml"),
    (["--config", "@CFG@", "-p", "4000"], "-p/--port is a tunnel's setting"),
    (["--config", "@CFG@", "nosuch"], "names no tunnel 'nosuch'"),
])
def test_bad_config_use_is_a_usage_error(stack, extra, want):
    cfg = tk.write_config("tunnels:\n  web: {addr: 3000}\n")
    try:
        argv = [tk.TTF_BIN, "-e", "ws://127.0.0.1:9/_tunnel"] + [cfg if x == "@CFG@" else x
                                                                for x in extra]
        p = stack.add_proc(tk.Proc("ttf", argv), expect_rc=2)
        rc = p.wait_exit(10)
    finally:
        os.unlink(cfg)
    assert rc == 2, p.describe()
    assert want in p.stderr(), p.stderr()


def test_terminal_view_lists_every_tunnel(stack):
    """On a TTY (tmux), the status block has one Forwarding line per tunnel, with its name, its
    public URL and its local service; Ctrl-C still ends ttf cleanly."""
    from test_termview import Tmux
    web, api = stack.local(), stack.local()
    d = stack.ttfd()
    cfg = tk.write_config("tunnels:\n  web: {addr: %d, subdomain: tv-web}\n"
                       "  api: {addr: %d, subdomain: tv-api}\n" % (web.port, api.port))
    t = Tmux([tk.TTF_BIN, "-e", d.endpoint(), "--config", cfg])
    try:
        screen = t.wait_screen(lambda s: "online" in s and "tv-api.localhost" in s,
                               "both tunnels online")
        for name, port in (("web", web.port), ("api", api.port)):
            assert re.search(r"^Forwarding\s+%s: http://tv-%s\.localhost:%d -> http://127\.0\.0\.1:%d$"
                             % (name, name, d.port, port), screen, re.M), screen
        assert echo(d.port, tk.sub_host(d, "tv-api"), "/x")["local_port"] == api.port
        t.run("send-keys", "-t", "t", "C-c")
        tk.wait_for(lambda: t.exit_status() is not None, 15, "ttf to exit after Ctrl-C")
        assert t.exit_status() == 0
    finally:
        t.close()
        os.unlink(cfg)


def test_each_tunnel_keeps_its_url(stack, tmp_path):
    """Without subdomains, each tunnel gets its own id back: after ttf restarts (its state kept)
    and when ttf reconnects to a restarted ttfd (its state file kept); ids never swap."""
    web, api = stack.local(), stack.local()
    state = tmp_path / "ttfd.db"
    d1 = stack.ttfd("--state", str(state))
    port = d1.port
    home = tmp_path / "agent"
    home.mkdir()
    env = {"XDG_STATE_HOME": str(home)}
    cfg = str(tmp_path / "ttf.yml")
    with open(cfg, "w") as f:
        f.write("tunnels:\n  web: {addr: %d}\n  api: {addr: %d}\n" % (web.port, api.port))
    a = MultiTtf(stack, d1.endpoint(), cfg, env=env)
    ids = {name: a.tunnels[name]["id"] for name in ("web", "api")}
    assert ids["web"] != ids["api"]
    assert a.proc.stop() == 0
    a = MultiTtf(stack, d1.endpoint(), cfg, env=env)
    assert {name: a.tunnels[name]["id"] for name in ids} == ids, "restarting ttf changed a URL"
    # ttfd restarts under the running ttf: it reconnects and asks for both ids again
    assert d1.stop() == 0
    d2 = stack.ttfd("--state", str(state), listen="127.0.0.1:%d" % port)
    a.wait(2, timeout=30)
    assert {name: a.tunnels[name]["id"] for name in ids} == ids, "reconnecting changed a URL"
    for name, app in (("web", web), ("api", api)):
        assert echo(d2.port, tk.sub_host(d2, ids[name]), "/again")["local_port"] == app.port


def test_inspector_page_names_the_tunnel(stack):
    """The inspector page in headless Chromium (tests/ui/inspector_tunnels.js): the header lists
    both tunnels, each row carries its tunnel's name, the detail view names it."""
    import subprocess
    ui_dir = os.path.join(tk.REPO, "tests", "ui")
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not os.path.isdir(os.path.join(ui_dir, "node_modules", "playwright-core")):
        pytest.fail("tests/ui/node_modules is missing: run scripts/deps.sh (npm ci in tests/ui)")
    web, api = stack.local(), stack.local()
    d = stack.ttfd()
    cfg = tk.write_config("tunnels:\n  web: {addr: %d, subdomain: ui-web}\n"
                       "  api: {addr: %d, subdomain: ui-api}\n" % (web.port, api.port))
    try:
        a = MultiTtf(stack, d.endpoint(), cfg)
    finally:
        os.unlink(cfg)
    m, _ = a.proc.wait_line(r"^Inspector: (http://\S+)$", 5)
    expect = {}
    for name in ("web", "api"):
        target = "/tag/%s-1" % name
        echo(d.port, tk.sub_host(d, "ui-" + name), target)
        expect[target] = name
    env = dict(os.environ, TUNNEL_TEST_SLOW=str(tk.SLOW), CHROMIUM=chromium)
    ui = {"inspector": m.group(1), "expect": expect, "tunnels": ["web", "api"]}
    p = subprocess.run(["node", os.path.join(ui_dir, "inspector_tunnels.js"), json.dumps(ui)],
                       capture_output=True, text=True, timeout=240 * tk.SLOW, env=env,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0 and "UI OK" in p.stdout, "stdout:\n%s\nstderr:\n%s" % (p.stdout,
                                                                                  p.stderr)
