# SPDX-License-Identifier: MIT
"""Agent authentication on the serverless back-end ($connect): the same JWT rules as ttfd.

HS256 with JWT_SECRET, RS256 with a JWKS given inline (JWKS) or as a file (JWKS_PATH); the token in
the Authorization header or the token query parameter; refusals are a 401 on the upgrade, which
ttf reports ("authentication failed") and exits with status 2; REQUIRE_AUTH without key material
refuses everyone.
"""

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

import awskit as ak
from conftest import Stack

SECRET = "aws-e2e-shared-secret-0123456789"


def hs_token(sub="alice", secret=SECRET, exp_in=3600):
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + exp_in}, secret, algorithm="HS256")


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks_of(key, kid):
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return json.dumps({"keys": [jwk]})


def rs_token(key, kid, sub="bob", exp_in=3600):
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + exp_in}, key, algorithm="RS256", headers={"kid": kid})


def assert_refused(stack, token=None, endpoint=None):
    agent = ak.Agent(endpoint or stack.standin.ws_url, stack.app.port, token=token)
    try:
        code = agent.wait_exit(30)
        assert code == 2, (code, agent.stderr())
        assert "authentication failed" in agent.stderr().lower(), agent.stderr()
        assert not any(ak.TUNNEL_RE.search(l) for l in agent.out)
    finally:
        agent.kill()


def assert_works(s):
    r = s.tunnel.sub("GET", "/echo?auth=1")
    assert r.status == 200 and r.json()["target"] == "/echo?auth=1"


@pytest.fixture(scope="module")
def hs_stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("hs"), env={"REQUIRE_AUTH": "true", "JWT_SECRET": SECRET}, token=hs_token())
    yield s
    assert s.close() == {"ttf": 0, "standin": 0}


def test_hs256_accepted(hs_stack):
    assert_works(hs_stack)


def test_hs256_token_in_query_accepted(hs_stack):
    agent = ak.Agent(hs_stack.standin.ws_url + "?token=" + hs_token("carol"), hs_stack.app.port)
    try:
        tid = ak.tunnel_id(agent.wait_established(30))
        r = ak.Tunnel(hs_stack.standin, tid).path("GET", "/echo?q")
        assert r.status == 200
    finally:
        assert agent.stop() == 0


def test_hs256_refused(hs_stack):
    assert_refused(hs_stack, token=hs_token(secret="not-the-secret-at-all-0123456789"))
    assert_refused(hs_stack, token=None)
    assert_refused(hs_stack, token=hs_token(exp_in=-3600))
    assert_refused(hs_stack, token="not.a.jwt")


def hs_token_with_header(header, sub="alice"):
    """HS256-signed under any header (PyJWT will not write a lowercase alg)."""
    def b64u(raw):
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    claims = {"sub": sub, "iat": int(time.time()), "exp": int(time.time()) + 3600}
    signing_input = b64u(json.dumps(header).encode()) + "." + b64u(json.dumps(claims).encode())
    return signing_input + "." + b64u(hmac.new(SECRET.encode(), signing_input.encode(),
                                                hashlib.sha256).digest())


def test_hs256_header_the_lambda_cannot_honour_refused(hs_stack):
    """The same rules as ttfd (lib/auth): alg is case-sensitive (RFC 7515 §4.1.1) and a crit
    header lists extensions the verifier does not understand (§4.1.11)."""
    assert_refused(hs_stack, token=hs_token_with_header({"alg": "hs256", "typ": "JWT"}))
    assert_refused(hs_stack, token=hs_token_with_header({"alg": "HS256", "crit": ["b64"],
                                                         "b64": False}))


def test_hs256_reconnect_keeps_url_for_same_subject(hs_stack):
    conns = [c["connectionId"] for c in hs_stack.standin.connections()]
    assert len(conns) == 1
    assert hs_stack.standin.drop(conns[0])
    url = hs_stack.agent.wait_established(30)
    assert url == hs_stack.url
    ak.wait_for(lambda: hs_stack.tunnel.sub("GET", "/status/200").status == 200, 20, "the tunnel again")


def test_refusals_never_log_the_token(hs_stack):
    bad = hs_token(secret="another-wrong-secret-0123456789")
    assert_refused(hs_stack, token=bad)
    log = hs_stack.standin.lambda_log_text()
    assert bad not in log and bad.split(".")[2] not in log
    good_sig = hs_token().split(".")[2]
    assert good_sig not in log


def test_rs256_jwks_inline_and_file(tmp_path):
    key, other = rsa_key(), rsa_key()
    jwks = jwks_of(key, "k1")
    s = Stack(tmp_path / "inline", env={"REQUIRE_AUTH": "true", "JWKS": jwks}, token=rs_token(key, "k1"))
    try:
        assert_works(s)
        assert_refused(s, token=rs_token(other, "k1"))
        assert_refused(s, token=hs_token())  # HS256 with no secret configured
    finally:
        assert s.close() == {"ttf": 0, "standin": 0}
    path = tmp_path / "jwks.json"
    path.write_text(jwks)
    s = Stack(tmp_path / "file", env={"REQUIRE_AUTH": "true", "JWKS_PATH": str(path)}, token=rs_token(key, "k1"))
    try:
        assert_works(s)
        assert_refused(s, token=rs_token(other, "k1"))
    finally:
        assert s.close() == {"ttf": 0, "standin": 0}


def test_require_auth_without_key_material_refuses_everyone(tmp_path):
    standin = ak.Standin(tmp_path, env={"REQUIRE_AUTH": "true"})
    app = ak.LocalApp()
    try:
        agent = ak.Agent(standin.ws_url, app.port, token=hs_token())
        try:
            assert agent.wait_exit(30) == 2, agent.stderr()
            assert "authentication failed" in agent.stderr().lower()
        finally:
            agent.kill()
    finally:
        app.close()
        assert standin.stop() == 0


def test_auth_off_accepts_without_token(stack):
    assert_works(stack)


def test_token_expired_before_the_move_is_told_once(tmp_path):
    """The Lambda checks the token at $connect, and ttf opens its next connection before API
    Gateway's limit (here 15 s: at 12 s) with the same token. One that expired meanwhile is
    refused there (401 "Unauthorized": AWS's $connect says no more): ttf says once that the
    token expired and that the tunnel ends with this connection, keeps it to its end (the
    tunnel still serves), then stops (exit 2) at the reconnection's refusal, naming the expiry.
    It tried again every 5 s and ended on a bare "Unauthorized; check the token"."""
    exp = int(time.time()) - 50  # inside the 60 s of leeway for 10 s more
    s = Stack(tmp_path, env={"REQUIRE_AUTH": "true", "JWT_SECRET": SECRET,
                             "CONNECTION_MAX_LIFETIME_SECS": "15"},
              args=["--connection-max-ms", "15000"], token=hs_token(exp_in=exp - int(time.time())))
    try:
        assert_works(s)
        code = s.agent.wait_exit(40)
        err = "\n".join(s.agent.err)
        assert code == 2, (code, err[-3000:])
        assert err.count("the server refused the token for the next connection") == 1, err[-3000:]
        assert "trying again" not in err, err[-3000:]
        assert "the token expired at" in err.splitlines()[-1], err[-3000:]
    finally:
        codes = s.close()
        assert codes["standin"] == 0, codes
