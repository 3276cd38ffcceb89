# SPDX-License-Identifier: MIT
"""Agent authentication: HS256 (--jwt-secret) and RS256/ES256 (--jwks) accepted, wrong key,
wrong secret, expired, not-yet-valid and missing tokens, a lowercase alg and a crit header
refused (ttf exits 2 saying
"authentication failed"), token in ?token= on the upgrade."""

import base64
import hashlib
import hmac
import json
import os
import re
import time

import jwt
import pytest

import pki
import tunnelkit as tk

SECRET = "e2e-secret-0123456789abcdef0123456789"


def token(claims=None, key=SECRET, alg="HS256", kid=None, lifetime=600):
    now = int(time.time())
    body = {"sub": "alice", "iat": now, "exp": now + lifetime}
    body.update(claims or {})
    headers = {"kid": kid} if kid else None
    return jwt.encode(body, key, algorithm=alg, headers=headers)


def accepted(stack, d, srv, *ttf_args, env=None):
    a = stack.ttf(d.endpoint(), srv.port, *ttf_args, env=env)
    r = tk.http(d.port, "GET", "/authed", tk.sub_host(d, a.tunnel_id))
    assert r.status == 200, r.raw_head
    return a


def refused(stack, d, srv, *ttf_args, env=None):
    a = stack.ttf(d.endpoint(), srv.port, *ttf_args, env=env, wait=False, expect_rc=2)
    rc = a.proc.wait_exit(15)
    assert rc is not None, "ttf still running 15 s after a refused token\n%s" % a.proc.describe()
    assert rc == 2, "ttf exit code %r, expected 2\n%s" % (rc, a.proc.describe())
    assert "authentication failed" in a.proc.stderr().lower(), a.proc.describe()
    assert "Tunnel established" not in a.proc.stdout()


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("jwks")
    rsa1, rsa2, rsa3, ec1 = pki.rsa_key(), pki.rsa_key(), pki.rsa_key(), pki.ec_key()
    jwks = pki.write_jwks(d / "jwks.json", [pki.jwk_of(rsa1, "rsa-1", "RS256"),
                                            pki.jwk_of(rsa3, "rsa-512", "RS512"),
                                            pki.jwk_of(ec1, "ec-1", "ES256")])
    return {"rsa1": pki.pem_private(rsa1), "rsa2": pki.pem_private(rsa2),
            "rsa3": pki.pem_private(rsa3), "ec1": pki.pem_private(ec1), "jwks": str(jwks)}


@pytest.fixture(scope="module")
def hs(mstack):
    srv = mstack.local()
    d = mstack.ttfd("--require-auth", "--jwt-secret", SECRET)
    return d, srv


@pytest.fixture(scope="module")
def rs(mstack, keys):
    srv = mstack.local()
    d = mstack.ttfd("--require-auth", "--jwks", keys["jwks"])
    return d, srv


def test_hs256_accepted(stack, hs):
    accepted(stack, *hs, "-t", token())


def test_hs256_token_from_env(stack, hs):
    accepted(stack, *hs, env={"TUNNEL_TOKEN": token()})


def test_hs256_secret_from_env(stack):
    srv = stack.local()
    d = stack.ttfd("--require-auth", env={"TTFD_JWT_SECRET": SECRET})
    accepted(stack, d, srv, "-t", token())
    refused(stack, d, srv, "-t", token(key="another-secret-0123456789abcdef0123"))


def test_hs256_wrong_secret_refused(stack, hs):
    refused(stack, *hs, "-t", token(key="wrong-secret-0123456789abcdef01234567"))


def test_missing_token_refused(stack, hs):
    refused(stack, *hs)


def test_garbage_token_refused(stack, hs):
    refused(stack, *hs, "-t", "not.a.jwt")


def test_expired_refused(stack, hs):
    refused(stack, *hs, "-t", token({"exp": int(time.time()) - 3600}))


def test_not_yet_valid_refused(stack, hs):
    refused(stack, *hs, "-t", token({"nbf": int(time.time()) + 3600}))


def test_alg_none_refused(stack, hs):
    claims = {"sub": "alice", "exp": int(time.time()) + 600}
    refused(stack, *hs, "-t", jwt.encode(claims, None, algorithm="none"))


def signed_with_header(header, claims, key=SECRET):
    """An HS256-signed token under any header (PyJWT will not write a lowercase alg)."""
    def b64u(raw):
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    signing_input = b64u(json.dumps(header).encode()) + "." + b64u(json.dumps(claims).encode())
    mac = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64u(mac)


@pytest.mark.parametrize("mode", ["binary", "json"])
@pytest.mark.parametrize("header", [{"alg": "hs256", "typ": "JWT"},
                                    {"alg": "HS256", "crit": ["exp"], "exp": 1}],
                         ids=["alg-lowercase", "crit"])
def test_header_ttfd_cannot_honour_refused(stack, hs, mode, header):
    """alg names are case-sensitive (RFC 7515 §4.1.1: libjwt read "hs256" as HS256) and a
    header whose crit lists extensions makes the token invalid to a verifier that understands
    none of them (§4.1.11): both were accepted with a good signature."""
    claims = {"sub": "alice", "exp": int(time.time()) + 600}
    refused(stack, *hs, "-t", signed_with_header(header, claims), "--protocol", mode)
    accepted(stack, *hs, "-t", signed_with_header({"alg": "HS256", "typ": "JWT"}, claims),
             "--protocol", mode)


def test_rs256_jwks_accepted(stack, rs, keys):
    accepted(stack, *rs, "-t", token(key=keys["rsa1"], alg="RS256", kid="rsa-1"))


def test_rs512_jwks_accepted(stack, rs, keys):
    accepted(stack, *rs, "-t", token(key=keys["rsa3"], alg="RS512", kid="rsa-512"))


def test_es256_jwks_accepted(stack, rs, keys):
    accepted(stack, *rs, "-t", token(key=keys["ec1"], alg="ES256", kid="ec-1"))


def test_rs256_wrong_key_refused(stack, rs, keys):
    refused(stack, *rs, "-t", token(key=keys["rsa2"], alg="RS256", kid="rsa-1"))


def test_rs256_unknown_kid_refused(stack, rs, keys):
    refused(stack, *rs, "-t", token(key=keys["rsa1"], alg="RS256", kid="nope"))


def test_rs256_expired_refused(stack, rs, keys):
    refused(stack, *rs, "-t", token({"exp": int(time.time()) - 3600}, key=keys["rsa1"],
                                    alg="RS256", kid="rsa-1"))


def test_hs256_token_refused_by_jwks_only_server(stack, rs):
    refused(stack, *rs, "-t", token())


def upgrade(port, target, extra=()):
    key = base64.b64encode(os.urandom(16)).decode()
    hdrs = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key),
            ("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Protocol", "ttf.json.v1")] + list(extra)
    c = tk.RawConn(port)
    try:
        c.send(tk.build_request("GET", target, "127.0.0.1:%d" % port, hdrs))
        status, _, heads, raw = c.read_head()
        return status, raw
    finally:
        c.close()


def test_upgrade_status_codes(hs):
    d, _ = hs
    assert upgrade(d.port, "/_tunnel")[0] == 401
    assert upgrade(d.port, "/_tunnel", [("Authorization", "Bearer " + token(key="x" * 32))])[0] == 401
    status, raw = upgrade(d.port, "/_tunnel", [("Authorization", "Bearer " + token())])
    assert status == 101, raw
    status, raw = upgrade(d.port, "/_tunnel?token=" + token())
    assert status == 101, raw
    assert upgrade(d.port, "/_tunnel?token=" + token(key="x" * 32))[0] == 401


# ---- a token that expires: the session it opened stays, ttf says so, the next one is refused


@pytest.mark.parametrize("mode", ["binary", "json"])
def test_token_expiring_while_connected_is_told(stack, hs, mode):
    """ttfd checks a token when the agent connects (as ngrok and frp do): the tunnel it opened
    stays up past its exp. ttf says so when exp passes (it said nothing: the user learnt it
    only from the refusal of the next connection, days later), and the tunnel still serves."""
    d, srv = hs
    a = accepted(stack, d, srv, "-t", token(lifetime=2), "--protocol", mode)
    a.proc.wait_line(r"the token \(--token / TUNNEL_TOKEN\) expired at \d{4}-\d\d-\d\d "
                     r"\d\d:\d\d:\d\d UTC .*the server will refuse the next one once its "
                     r"allowance for clock skew \(60 s on ttfd and the Lambda\)", 10, stream="err")
    r = tk.http(d.port, "GET", "/still", tk.sub_host(d, a.tunnel_id))
    assert r.status == 200, r.raw_head


@pytest.mark.parametrize("mode", ["binary", "json"])
def test_expired_token_stops_ttf_at_its_reconnection(stack, mode, tmp_path):
    """A token past its exp, still inside ttfd's 60 s of leeway: accepted, and ttf warns at
    start. ttfd restarts once the leeway is over: ttf's reconnection is refused and ttf stops
    (exit 2) after that one attempt, naming the expiry and when it was (it said "check the
    token" and left the user to decode the JWT)."""
    srv = stack.local()
    state = str(tmp_path / "d.db")
    d = stack.ttfd("--require-auth", "--jwt-secret", SECRET, "--state", state)
    exp = int(time.time()) - 50  # ttfd's leeway (60 s) leaves 10 s to connect, even under load
    a = stack.ttf(d.endpoint(), srv.port, "-t", token({"exp": exp}), "--protocol", mode,
                  expect_rc=2)
    a.proc.wait_line(r"the token .* expired at .* ago\): a server that checks tokens will "
                     r"refuse it", 5, stream="err")
    tk.wait_for(lambda: time.time() > exp + 61, 15, "the end of ttfd's leeway")
    port = d.port
    assert d.stop() == 0
    d2 = stack.ttfd("--require-auth", "--jwt-secret", SECRET, "--state", state,
                    listen="127.0.0.1:%d" % port)
    rc = a.proc.wait_exit(15)
    assert rc == 2, "ttf exit status %r after its token was refused\n%s" % (rc, a.proc.describe())
    err = a.proc.stderr()
    assert re.search(r"authentication failed: the server answered 401: token expired; the token "
                     r"expired at \d{4}-.* UTC \(\d+ s ago\): give ttf a new one", err), err[-2000:]
    assert len(re.findall(r"ERROR authentication failed", err)) == 1, err[-2000:]
    assert "token expired" in d2.proc.stderr(), d2.proc.describe()
