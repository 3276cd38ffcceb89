# SPDX-License-Identifier: MIT
"""`ttfd token --sub NAME --ttl 30d`: the token it prints carries sub, iat and exp (README
"Tokens"), is accepted by ttfd with the same secret (flag or TTFD_JWT_SECRET) and refused with
another; the same claims expired are refused. Usage errors exit 2."""

import subprocess
import time

import jwt
import pytest

import tunnelkit as tk

SECRET = "token-secret-0123456789abcdef01234567"


def mint(*args, env=None):
    e = {"PATH": "/usr/bin:/bin"}
    e.update(env or {})
    return tk.run([tk.TTFD_BIN, "token"] + list(args), env=e, stdin=subprocess.DEVNULL)


def test_minted_token_claims():
    before = int(time.time())
    p = mint("--sub", "carol", "--ttl", "30d", "--jwt-secret", SECRET)
    assert p.returncode == 0, p.stderr
    token = p.stdout.strip()
    assert token.count(".") == 2 and "\n" not in token
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["sub"] == "carol"
    assert before <= claims["iat"] <= int(time.time())
    assert claims["exp"] - claims["iat"] == 30 * 86400
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    for ttl, secs in (("12h", 43200), ("90m", 5400), ("45s", 45), ("3600", 3600)):
        p = mint("--sub", "x", "--ttl", ttl, env={"TTFD_JWT_SECRET": SECRET})
        assert p.returncode == 0, p.stderr
        c = jwt.decode(p.stdout.strip(), SECRET, algorithms=["HS256"])
        assert c["exp"] - c["iat"] == secs


@pytest.mark.parametrize("args", [[], ["--sub", ""], ["--sub", "a", "--ttl", "0"],
                                  ["--sub", "a", "--ttl", "3w"], ["--sub", "a", "--ttl", "99999d"],
                                  ["--sub", "a", "--bogus"], ["--sub", "a", "stray"],
                                  ["--sub", "x" * 256]])
def test_token_usage_errors(args):
    p = mint(*args, "--jwt-secret", SECRET)
    assert p.returncode == 2, (args, p.returncode, p.stdout, p.stderr)
    assert p.stderr.strip() and not p.stdout.strip()


def test_token_needs_a_secret():
    p = mint("--sub", "a")
    assert p.returncode == 2 and "secret" in p.stderr, p.stderr


def test_minted_token_accepted_expired_refused(stack):
    srv = stack.local()
    d = stack.ttfd("--require-auth", env={"TTFD_JWT_SECRET": SECRET})
    token = mint("--sub", "dave", "--ttl", "1h", env={"TTFD_JWT_SECRET": SECRET}).stdout.strip()
    a = stack.ttf(d.endpoint(), srv.port, "-t", token)
    assert tk.http(d.port, "GET", "/t", tk.sub_host(d, a.tunnel_id)).status == 200
    # another secret's token: refused with ttfd's reason shown
    other = mint("--sub", "dave", "--jwt-secret", "another-secret-0123456789abcdef0").stdout.strip()
    b = stack.ttf(d.endpoint(), srv.port, "-t", other, wait=False, expect_rc=2)
    assert b.proc.wait_exit(15) == 2, b.proc.describe()
    assert "bad token signature" in b.proc.stderr(), b.proc.describe()
    # the same claims, expired (past the verifier's 60 s leeway): refused
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    claims["exp"] = int(time.time()) - 120
    expired = jwt.encode(claims, SECRET, algorithm="HS256")
    c = stack.ttf(d.endpoint(), srv.port, "-t", expired, wait=False, expect_rc=2)
    assert c.proc.wait_exit(15) == 2, c.proc.describe()
    assert "token expired" in c.proc.stderr(), c.proc.describe()
