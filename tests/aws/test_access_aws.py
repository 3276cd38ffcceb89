# SPDX-License-Identifier: MIT
"""Access control on the serverless back-end (issue 16 "Access control before the agent"): the
real bootstrap behind the stand-in, the real ttf with --basic-auth, --allow-cidr, --deny-cidr and
--rate-limit:

- refused requests (401 with WWW-Authenticate, 403, 429 with Retry-After) never reach the local
  app; allowed ones do, without the tunnel's Authorization field;
- the client address is API Gateway's requestContext.http.sourceIp;
- the rate limit is shared by every Lambda instance (DynamoDB counters per window);
- the policy is stored on the connection record without the password; until an agent's ready
  is handled, requests to its tunnel get 503 (never "no policy");
- a policy the Lambda cannot enforce is refused with tunnel_refused "access_invalid".
"""

import base64
import time

import pytest

import awskit as ak
from conftest import Stack

PASSWORD = "correct-horse-battery"
CONNECTIONS = "http-tunnel-connections-test"


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


@pytest.fixture(scope="module")
def s(tmp_path_factory):
    st = Stack(tmp_path_factory.mktemp("access"))
    yield st
    assert st.close() == {"ttf": 0, "standin": 0}


def seen(s):
    with s.app.lock:
        return len(s.app.requests)


def agent_with(s, *flags):
    a = s.new_agent(extra=flags)
    try:
        tid = ak.tunnel_id(a.wait_established(30))
    except BaseException:
        a.kill()
        raise
    return a, ak.Tunnel(s.standin, tid)


def test_basic_auth(s):
    a, t = agent_with(s, "--basic-auth", "alice:" + PASSWORD)
    try:
        n = seen(s)
        r = t.sub("GET", "/private")
        assert r.status == 401, (r.status, r.body)
        assert r.get("www-authenticate") == 'Basic realm="%s", charset="UTF-8"' % t.tid
        assert r.get("cache-control") == "no-store", r.headers  # as ttfd's refusals
        for wrong in (basic("alice", "wrong-password"), "Bearer x"):
            r = t.path("POST", "/private", [("Authorization", wrong)], body=b"secret")
            assert r.status == 401, (wrong, r.status)
        assert seen(s) == n, "a refused request reached the local app"
        r = t.sub("GET", "/private", [("Authorization", basic("alice", PASSWORD))])
        assert r.status == 200, (r.status, r.body)
        assert "authorization" not in [k.lower() for k, _ in r.json()["headers"]]
        assert seen(s) == n + 1
        # stored without the password
        recs = [i for i in s.standin.scan_all(CONNECTIONS) if i.get("tunnelId", {}).get("S") == t.tid]
        assert recs and all("access" in i for i in recs), recs
        assert all(PASSWORD not in i["access"]["S"] and "alice" not in i["access"]["S"]
                   for i in recs), recs
    finally:
        assert a.stop() == 0


def test_cidr(s):
    agents = []
    try:
        for flags, status in ((("--deny-cidr", "127.0.0.1/32"), 403),
                              (("--allow-cidr", "10.0.0.0/8", "--allow-cidr", "::/0"), 403),
                              (("--allow-cidr", "127.0.0.0/8", "--deny-cidr", "10.0.0.0/8"), 200)):
            a, t = agent_with(s, *flags)
            agents.append(a)
            n = seen(s)
            # X-Forwarded-For is the client's own words: API Gateway's sourceIp counts
            r = t.sub("GET", "/x", [("X-Forwarded-For", "10.1.2.3")])
            assert r.status == status, (flags, r.status, r.body)
            assert seen(s) == n + (status == 200)
            if status == 403:
                assert r.body.startswith(b"your address may not use this tunnel"), r.body
    finally:
        for a in agents:
            assert a.stop() == 0


def test_rate_limit(s):
    # windows are Unix hours: start well inside one, so that the 4 requests share it
    left = 3600 - time.time() % 3600
    if left < 60:
        time.sleep(left + 1)
    a, t = agent_with(s, "--rate-limit", "3/h")
    try:
        n = seen(s)
        for _ in range(3):
            assert t.sub("GET", "/x").status == 200
        r = t.path("GET", "/x")
        assert r.status == 429, (r.status, r.body)
        assert 1 <= int(r.get("retry-after")) <= 3600, r.headers
        assert r.get("cache-control") == "no-store", r.headers
        assert seen(s) == n + 3, "a request over the limit reached the local app"
    finally:
        assert a.stop() == 0


def test_bad_policy_refused(s):
    for access, why in (({"allow_cidr": ["10.0.0.0/33"]}, "prefix length out of range"),
                        ({"geo": "FR"}, "unknown field 'geo'")):
        c = ak.WsClient(s.standin.ws_url, "ttf.json.v1")
        try:
            assert c.opened, c.status
            c.send({"type": "ready", "access": access})
            m = c.expect(lambda m: m.get("type") in ("connection_established", "tunnel_refused"), 30)
            assert m["type"] == "tunnel_refused" and m["code"] == "access_invalid", m
            assert why in m["message"], m
        finally:
            c.close()
    c = ak.WsClient(s.standin.ws_url, "ttf.json.v1")
    try:
        c.send({"type": "ready", "access": {"deny_cidr": ["192.0.2.0/24"]}})
        m = c.expect(lambda m: m.get("type") in ("connection_established", "tunnel_refused"), 30)
        assert m["type"] == "connection_established" and m.get("access_applied") is True, m
    finally:
        c.close()


def test_not_ready_is_503(s):
    before = {i["connectionId"]["S"] for i in s.standin.scan_all(CONNECTIONS)}
    c = ak.WsClient(s.standin.ws_url, "ttf.json.v1")  # connected, no ready yet
    try:
        assert c.opened, c.status
        new = ak.wait_for(lambda: [i for i in s.standin.scan_all(CONNECTIONS)
                                   if i["connectionId"]["S"] not in before and "tunnelId" in i],
                          20, "the new connection record")
        assert new[0]["access"]["S"] == "pending", new
        r = ak.Tunnel(s.standin, new[0]["tunnelId"]["S"]).sub("GET", "/x")
        assert r.status == 503 and r.get("retry-after") == "1", (r.status, r.headers, r.body)
        assert r.get("cache-control") == "no-store", r.headers
    finally:
        c.close()


def test_takeover_carries_the_policy(s):
    """The agent's next connection takes the tunnel over under the policy it sends again."""
    a = ak.WsClient(s.standin.ws_url, "ttf.json.v1")
    b = ak.WsClient(s.standin.ws_url, "ttf.json.v1")
    try:
        pred = lambda m: m.get("type") in ("connection_established", "tunnel_refused")  # noqa: E731
        a.send({"type": "ready", "agent_key": "k" * 64, "access": {"allow_cidr": ["127.0.0.0/8"]}})
        est = a.expect(pred, 30)
        assert est["type"] == "connection_established" and est.get("access_applied") is True, est
        tid = est["tunnel_id"]
        b.send({"type": "ready", "tunnel_id": tid, "agent_key": "k" * 64,
                "takeover": est["takeover"], "access": {"deny_cidr": ["127.0.0.1"]}})
        est2 = b.expect(pred, 30)
        assert est2["type"] == "connection_established" and est2["tunnel_id"] == tid, est2
        assert est2.get("access_applied") is True, est2
        r = ak.wait_for(lambda: (lambda r: r if r.status == 403 else None)(
            ak.Tunnel(s.standin, tid).sub("GET", "/x")), 10, "the new connection's policy")
        assert r.body.startswith(b"your address may not use this tunnel"), r.body
    finally:
        a.close()
        b.close()
