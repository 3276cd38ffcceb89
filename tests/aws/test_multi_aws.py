# SPDX-License-Identifier: MIT
"""Several tunnels, one agent, on the serverless back-end (issue 16 "Several tunnels, one agent"):
`ttf --config FILE` with two tunnels through the stand-in, the real bootstrap and the real ttf.

- each tunnel is answered by its own local service, by subdomain and by path, each under its own
  access policy (basic auth on one only), with connection_established listing both;
- granting is all or none: when one tunnel's name is taken, ttf is refused naming that tunnel,
  and the name the other tunnel had claimed is let go at once (another user gets it);
- moving to a new connection before API Gateway's 2-hour limit (here 6 s) moves both tunnels:
  requests to either are answered all along;
- when the agent disconnects, the connection's record and its tunnels' items are deleted and
  both names released to their owner (who gets both back).
"""

import json
import os
import re
import time
import urllib.request

import jwt
import pytest

import awskit as ak

SECRET = "aws-multi-secret-0123456789abcdef"
CONNECTIONS = "http-tunnel-connections-test"
LINE_RE = re.compile(r"^Tunnel (\S+): (\S+) -> http://(\S+)$")
URL_RE = re.compile(r"^https?://([a-z0-9-]{1,63})\.")


def tok(sub):
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + 3600}, SECRET, algorithm="HS256")


class MultiAgent:
    """ttf --config FILE; tunnels: {name: tunnel id} from its "Tunnel NAME: URL -> ..." lines."""

    def __init__(self, standin, config, token=None, state_home=None):
        self.config = ak.write_config(config)
        self.agent = ak.Agent(standin.ws_url, None, token=token, extra=("--config", self.config),
                              state_home=state_home)
        self.tunnels = {}

    def wait_established(self, count, timeout=30):
        ak.wait_for(lambda: len(self._parse()) >= count or self.agent.proc.poll() is not None,
                    timeout, "%d tunnel lines" % count)
        assert len(self.tunnels) == count, (self.agent.out, self.agent.stderr())
        return self.tunnels

    def _parse(self):
        for line in list(self.agent.out):
            m = LINE_RE.match(line)
            if m:
                u = URL_RE.match(m.group(2))
                assert u, line
                self.tunnels[m.group(1)] = u.group(1)
        return self.tunnels

    def stop(self):
        try:
            return self.agent.stop()
        finally:
            os.unlink(self.config)


def served_by(standin, tid, app, tag, path=False):
    """A request to tunnel tid reaches app (and only app's log gets the tag)."""
    t = ak.Tunnel(standin, tid)
    r = (t.path if path else t.sub)("GET", "/tag/%s" % tag)
    assert r.status == 200, (tid, r.status, r.body[:200])
    assert r.json()["target"] == "/tag/%s" % tag, r.body[:200]
    with app.lock:
        return any(p == "/tag/%s" % tag for _, p, _, _ in app.requests)


def items(standin):
    return standin.scan_all(CONNECTIONS)


def conn_items(standin):
    """connection records and tunnel items (no owner records)"""
    return [i for i in items(standin) if not i["connectionId"]["S"].startswith("owner#")]


def owner(standin, name):
    for i in items(standin):
        if i["connectionId"]["S"] == "owner#" + name:
            return i
    return None


@pytest.fixture(scope="module")
def auth(tmp_path_factory):
    s = ak.Standin(tmp_path_factory.mktemp("multi-auth"),
                   env={"REQUIRE_AUTH": "true", "JWT_SECRET": SECRET})
    apps = (ak.LocalApp(), ak.LocalApp())
    yield s, apps
    for a in apps:
        a.close()
    assert s.stop() == 0, s.stderr_text()[-3000:]


def two_tunnels(apps, web_sub, api_extra=""):
    return ("version: 2\n"
            "tunnels:\n"
            "  web:\n"
            "    addr: %d\n"
            "    subdomain: %s\n"
            "  api:\n"
            "    addr: http://127.0.0.1:%d\n%s" % (apps[0].port, web_sub, apps[1].port, api_extra))


def test_two_tunnels_each_answered_by_its_own_service(auth):
    s, (web, api) = auth
    m = MultiAgent(s, two_tunnels((web, api), "multi-web",
                                  "    basic_auth: \"ann:s3cret-pass\"\n"), token=tok("ann"))
    try:
        t = m.wait_established(2)
        assert t["web"] == "multi-web", t
        assert re.fullmatch(r"[a-z0-9]{12}", t["api"]), t
        # stdout and stderr are read by separate threads: the log line may come after the URLs
        ak.wait_for(lambda: "2 tunnels established" in m.agent.stderr(), 10, "the log line")
        # each URL reaches its own local service, by subdomain and by path
        for i in range(3):
            assert served_by(s, t["web"], web, "w%d" % i)
            assert not any(p == "/tag/w%d" % i for _, p, _, _ in api.requests)
        auth_hdr = [("Authorization", "Basic YW5uOnMzY3JldC1wYXNz")]  # ann:s3cret-pass
        for i in range(3):
            r = ak.Tunnel(s, t["api"]).sub("GET", "/tag/a%d" % i, headers=auth_hdr)
            assert r.status == 200 and r.json()["target"] == "/tag/a%d" % i, r.body[:200]
            assert not any(p == "/tag/a%d" % i for _, p, _, _ in web.requests)
            assert any(p == "/tag/a%d" % i for _, p, _, _ in api.requests)
            # the agent got no Authorization: it carried the tunnel's credentials only
            assert "authorization" not in [k.lower() for k, _ in r.json()["headers"]]
        assert served_by(s, t["web"], web, "wp", path=True)
        r = ak.Tunnel(s, t["api"]).path("GET", "/tag/ap", headers=auth_hdr)
        assert r.status == 200 and any(p == "/tag/ap" for _, p, _, _ in api.requests)
        # each tunnel its own gate: api asks for ann's password, web does not
        r = ak.Tunnel(s, t["api"]).sub("GET", "/tag/nopass")
        assert r.status == 401, (r.status, r.body)
        assert r.get("WWW-Authenticate") == 'Basic realm="%s", charset="UTF-8"' % t["api"]
        assert not any(p == "/tag/nopass" for _, p, _, _ in api.requests)
        # the inspector names each exchange's tunnel (JSON mode over the Lambda as over ttfd)
        insp = [re.match(r"^Inspector: (http://\S+)$", l) for l in m.agent.out]
        insp = [x.group(1) for x in insp if x]
        assert insp, m.agent.out
        with urllib.request.urlopen(insp[0] + "/api/requests?limit=100", timeout=10) as resp:
            seen = {r["target"]: r.get("tunnel") for r in json.load(resp)["requests"]}
        assert seen["/tag/w0"] == "web" and seen["/tag/a0"] == "api", seen
        assert "/tag/nopass" not in seen, seen  # refused at the gate: never reached ttf
        # one connection record (web) and one tunnel item (api, naming its connection)
        recs = conn_items(s)
        rec = [i for i in recs if i["tunnelId"]["S"] == "multi-web"]
        item = [i for i in recs if i["tunnelId"]["S"] == t["api"]]
        assert len(rec) == 1 and len(item) == 1, recs
        assert item[0]["conn"]["S"] == rec[0]["connectionId"]["S"]
        assert rec[0]["tunnels"]["S"] == t["api"]
    finally:
        assert m.stop() == 0


def test_all_or_none_when_one_name_is_taken(auth):
    s, apps = auth
    bob = ak.Agent(s.ws_url, apps[0].port, token=tok("bob"), extra=("--subdomain", "multi-taken"))
    try:
        assert URL_RE.match(bob.wait_established(30)).group(1) == "multi-taken"
        cfg = ("version: 2\ntunnels:\n"
               "  first: {addr: %d, subdomain: multi-free}\n"
               "  second: {addr: %d, subdomain: multi-taken}\n" % (apps[0].port, apps[1].port))
        m = MultiAgent(s, cfg, token=tok("carol"))
        try:
            assert m.agent.wait_exit(40) == 1, m.agent.stderr()
            err = m.agent.stderr()
            assert "tunnel second: subdomain 'multi-taken' is in use by another agent" in err, err
            assert not [l for l in m.agent.out if LINE_RE.match(l)], m.agent.out
        finally:
            m.stop()
        # nothing is held for the session that never served: multi-free's record is gone, so
        # another user gets it now (not "belongs to another user")
        ak.wait_for(lambda: owner(s, "multi-free") is None, 10, "multi-free let go")
        dave = ak.Agent(s.ws_url, apps[0].port, token=tok("dave"), extra=("--subdomain", "multi-free"))
        try:
            assert URL_RE.match(dave.wait_established(30)).group(1) == "multi-free"
        finally:
            assert dave.stop() == 0
        # bob's tunnel still works
        assert served_by(s, "multi-taken", apps[0], "bob-still")
    finally:
        assert bob.stop() == 0


def test_disconnect_frees_both(auth, tmp_path):
    s, (web, api) = auth
    cfg = ("version: 2\ntunnels:\n"
           "  one: {addr: %d, subdomain: multi-d1}\n"
           "  two: {addr: %d, subdomain: multi-d2}\n" % (web.port, api.port))
    home = tmp_path / "erin"
    home.mkdir()
    m = MultiAgent(s, cfg, token=tok("erin"), state_home=home)
    try:
        t = m.wait_established(2)
        assert t == {"one": "multi-d1", "two": "multi-d2"}, t
        assert served_by(s, "multi-d2", api, "d2")
        cid = [i for i in conn_items(s) if i["tunnelId"]["S"] == "multi-d1"][0]["connectionId"]["S"]
    finally:
        assert m.stop() == 0
    # $disconnect: the record and both tunnels' items are deleted ...
    ak.wait_for(lambda: not [i for i in conn_items(s) if cid in i["connectionId"]["S"]
                             or i.get("conn", {}).get("S") == cid], 15, "records deleted")
    for name in ("multi-d1", "multi-d2"):
        r = ak.Tunnel(s, name).sub("GET", "/gone")
        assert r.status in (404, 502), (name, r.status)
        # ... and each name released to its owner: kept for the retention period from now, no
        # longer held past the connection's 2 hours
        o = owner(s, name)
        assert o and o["holder"]["S"] == cid, o
        assert int(o["ttl"]["N"]) < time.time() + 30 * 86400 + 600, o
    # another user is told they belong to erin; erin's ttf gets both back
    frank = ak.Agent(s.ws_url, web.port, token=tok("frank"), extra=("--subdomain", "multi-d2"))
    try:
        assert frank.wait_exit(40) == 1
        assert "subdomain 'multi-d2' belongs to another user" in frank.stderr(), frank.stderr()
    finally:
        frank.kill()
    m = MultiAgent(s, cfg, token=tok("erin"), state_home=home)
    try:
        assert m.wait_established(2) == {"one": "multi-d1", "two": "multi-d2"}
        assert served_by(s, "multi-d1", web, "d1-back") and served_by(s, "multi-d2", api, "d2-back")
    finally:
        assert m.stop() == 0


def test_moving_to_a_new_connection_keeps_both(tmp_path):
    """API Gateway's 2-hour limit (here 6 s): ttf moves both tunnels to its next connection in one
    ready (takeover); requests to either tunnel are answered by its own service all along."""
    s = ak.Standin(tmp_path, env={"CONNECTION_MAX_LIFETIME_SECS": "6"},
                   args=["--connection-max-ms", "6000"])
    apps = (ak.LocalApp(), ak.LocalApp())
    m = None
    try:
        m = MultiAgent(s, two_tunnels(apps, "multi-move"))
        t = m.wait_established(2)
        first = {c["connectionId"] for c in s.connections()}
        end = time.monotonic() + 14
        i = 0
        while time.monotonic() < end:
            for k, name in enumerate(("web", "api")):
                assert served_by(s, t[name], apps[k], "%s-%d" % (name, i)), (name, i)
            i += 1
        now = {c["connectionId"] for c in s.connections()}
        assert not (first & now), "still on the first connection"
        out = "\n".join(m.agent.err)
        assert out.count("moved to a new connection") >= 2, out[-3000:]
        assert "Reconnecting" not in out, out[-3000:]
        assert len([l for l in m.agent.out if LINE_RE.match(l)]) == 2, m.agent.out
        # the moved-away connections serve neither name any more
        live = [i for i in conn_items(s) if i["tunnelId"]["S"] in (t["web"], t["api"])]
        assert len(live) == 2, live
        print("%d request pairs over 14 s, every one 200 from its own service" % i)
    finally:
        if m:
            assert m.stop() == 0
        for a in apps:
            a.close()
        assert s.stop() == 0


def test_a_tunnel_to_its_own_public_url_is_508_and_a_chain_passes(auth):
    """A tunnel whose local service is the deployment's own public URL (Host kept as it came)
    sent each request round API Gateway -> Lambda -> agent -> API Gateway until the Lambda's
    request timeout: now the Lambda marks what it forwards with CDN-Loop (RFC 8586, one mark per
    tunnel under the deployment's domain) and answers its own mark coming back 508 Loop Detected
    (ttfd's rule and text). A chain through two tunnels of the deployment is no loop."""
    s, (web, _) = auth
    edge = "http://127.0.0.1:%d" % s.http_port
    cfg = ("version: 2\ntunnels:\n"
           "  web:\n    addr: %d\n    subdomain: loop-web\n"
           "  self:\n    addr: %s\n    subdomain: loop-self\n"
           "  chain:\n    addr: %s\n    subdomain: loop-chain\n    host_header: loop-web.%s:%d\n"
           % (web.port, edge, edge, ak.DOMAIN, s.http_port))
    m = MultiAgent(s, cfg, token=tok("lou"))
    try:
        m.wait_established(3)
        r = ak.Tunnel(s, "loop-self").sub("GET", "/round", headers=[("CDN-Loop", "other-cdn")],
                                          timeout=20)
        assert r.status == 508, (r.status, r.body[:300])
        assert r.body == b"request loop: the tunnel's local service sends requests back to " \
                         b"this tunnel\n", r.body
        ak.wait_for(lambda: "loop (its own CDN-Loop mark came back)" in s.lambda_log_text(), 10,
                    "the Lambda's log line")
        r = ak.Tunnel(s, "loop-chain").sub("GET", "/chained", headers=[("CDN-Loop", "other-cdn")])
        assert r.status == 200, (r.status, r.body[:300])
        got = ", ".join(v for k, v in r.json()["headers"] if k.lower() == "cdn-loop")
        marks = [x.strip() for x in got.split(",")]
        assert marks[0] == "other-cdn" and len(marks) == 3, got
        assert all(re.fullmatch(r"http-tunnel-[0-9a-f]{16}", x) for x in marks[1:]), got
        assert marks[1] != marks[2], got
    finally:
        m.stop()
