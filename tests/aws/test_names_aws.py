# SPDX-License-Identifier: MIT
"""Tunnel names on the serverless back-end (issue 12 item 3, issue 16 "Chosen names", "Tokens"):
the real bootstrap behind the stand-in, owner records in DynamoDB written with conditional
writes, the real ttf.

- with REQUIRE_AUTH, an id belongs to its token's subject: another subject asking for it (as a
  remembered id, or by name) is refused, the owner (ttf restarted with its state) gets it back;
- `ttf --subdomain` is granted, routed by subdomain and by path, refused with the reason when
  taken, and stays its subject's;
- without auth, a disconnected agent's name is held for it during the grace period;
- a token printed by `ttfd token` is accepted by the Lambda (the same claims), expired refused.
"""

import json
import os
import re
import subprocess
import time

import jwt
import pytest

import awskit as ak
from conftest import Stack

SECRET = "aws-names-secret-0123456789abcdef"
TTFD_BIN = os.environ.get("TTFD_BIN", os.path.join(ak.REPO, "build", "bin", "ttfd"))
NAME_RE = re.compile(r"^https?://([a-z0-9-]{1,63})\.")


def tok(sub, exp_in=3600):
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + exp_in}, SECRET, algorithm="HS256")


def name_of(url):
    m = NAME_RE.match(url)
    assert m, url
    return m.group(1)


def refused(s, token=None, extra=(), state_home=None, code=1):
    agent = s.new_agent(token=token, extra=extra, state_home=state_home)
    try:
        rc = agent.wait_exit(40)
        assert rc == code, (rc, agent.stderr())
        assert not any(ak.TUNNEL_RE.search(line) for line in agent.out), agent.out
        return agent.stderr()
    finally:
        agent.kill()


def reaches(s, name):
    t = ak.Tunnel(s.standin, name)
    ak.wait_for(lambda: t.sub("GET", "/echo?n=1").status == 200, 30, "tunnel %s by subdomain" % name)
    r = t.path("GET", "/echo?n=2")
    assert r.status == 200 and r.json()["target"] == "/echo?n=2", (r.status, r.body[:200])


def ws_ready(s, token, **fields):
    """A scripted agent sends ready with fields; returns the server's answer."""
    c = ak.WsClient(s.standin.ws_url + "?token=" + token, "ttf.json.v1")
    try:
        assert c.opened, c.status
        c.send(dict({"type": "ready"}, **fields))
        return c.expect(lambda m: m.get("type") in ("connection_established", "tunnel_refused"), 30)
    finally:
        c.close()


@pytest.fixture(scope="module")
def auth(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("names-auth"),
              env={"REQUIRE_AUTH": "true", "JWT_SECRET": SECRET}, token=tok("owner0"))
    yield s
    assert s.close() == {"ttf": 0, "standin": 0}


def test_id_stays_its_subjects(auth, tmp_path):
    home = tmp_path / "alice"
    home.mkdir()
    a = auth.new_agent(token=tok("alice"), state_home=home)
    try:
        tid = name_of(a.wait_established(30))
    finally:
        assert a.stop() == 0
    # mallory asks for alice's id: a fresh one and the reason
    m = ws_ready(auth, tok("mallory"), tunnel_id=tid, agent_key="mallory-key-0123456789abcdef")
    assert m["type"] == "connection_established", m
    assert m["tunnel_id"] != tid, "mallory was given alice's tunnel id"
    assert "belongs to another user" in m.get("message", ""), m
    # by name: refused, ttf exits 1 with the reason
    err = refused(auth, tok("mallory"), extra=("--subdomain", tid))
    assert "belongs to another user" in err, err
    # alice's ttf, restarted with its state, gets it back
    a = auth.new_agent(token=tok("alice"), state_home=home)
    try:
        assert name_of(a.wait_established(30)) == tid, a.stderr()
        reaches(auth, tid)
    finally:
        assert a.stop() == 0


def test_chosen_name_with_auth(auth):
    a = auth.new_agent(token=tok("alice"), extra=("--subdomain", "Shop"))
    try:
        url = a.wait_established(30)
        assert name_of(url) == "shop", url
        reaches(auth, "shop")
        err = refused(auth, tok("bob"), extra=("--subdomain", "shop"))
        assert "subdomain 'shop' is in use by another agent" in err, err
    finally:
        assert a.stop() == 0
    err = refused(auth, tok("bob"), extra=("--subdomain", "shop"))
    assert "subdomain 'shop' belongs to another user" in err, err
    a = auth.new_agent(token=tok("alice"), extra=("--subdomain", "shop"))
    try:
        assert name_of(a.wait_established(30)) == "shop"
    finally:
        assert a.stop() == 0
    # the Lambda checks names itself, for agents that do not
    m = ws_ready(auth, tok("bob"), subdomain="www")
    assert m["type"] == "tunnel_refused" and m["code"] == "name_invalid", m


def test_one_entry_tunnels_takes_its_chosen_name(auth):
    """ready.tunnels with one entry: its subdomain counts as ready.subdomain (several tunnels:
    test_multi_aws.py)."""
    m = ws_ready(auth, tok("carol"), tunnels=[{"name": "web", "subdomain": "carols-web"}])
    assert m["type"] == "connection_established", m
    assert m["tunnel_id"] == "carols-web" and m["tunnels"][0]["tunnel_id"] == "carols-web", m


def test_minted_token_accepted_expired_refused(auth):
    p = subprocess.run([TTFD_BIN, "token", "--sub", "erin", "--ttl", "1h", "--jwt-secret", SECRET],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    token = p.stdout.strip()
    a = auth.new_agent(token=token)
    try:
        tid = name_of(a.wait_established(30))
        reaches(auth, tid)
    finally:
        assert a.stop() == 0
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    claims["exp"] = int(time.time()) - 120
    err = refused(auth, jwt.encode(claims, SECRET, algorithm="HS256"), code=2)
    assert "authentication failed" in err.lower(), err


def test_grace_without_auth(stack, tmp_path):
    home = tmp_path / "diary"
    home.mkdir()
    a = stack.new_agent(extra=("--subdomain", "diary"), state_home=home)
    try:
        assert name_of(a.wait_established(30)) == "diary"
    finally:
        a.kill()  # a crash: API Gateway sees the socket close, $disconnect runs
    t = ak.Tunnel(stack.standin, "diary")
    ak.wait_for(lambda: t.sub("GET", "/echo").status != 200, 30, "the tunnel to go away")
    err = refused(stack, extra=("--subdomain", "diary"))
    assert "held for the agent that had it" in err, err
    a = stack.new_agent(extra=("--subdomain", "diary"), state_home=home)
    try:
        assert name_of(a.wait_established(30)) == "diary", a.stderr()
        reaches(stack, "diary")
    finally:
        assert a.stop() == 0
