# SPDX-License-Identifier: MIT
"""A local service that speaks HTTPS (a dev server with a self-signed certificate, `https://
localhost:8443`): `ttf https://HOST:PORT` (and a config file's `addr: https://...`) reaches it
over TLS, as `ngrok http https://localhost:8443` does: its certificate is not verified (ngrok
does not either), SNI names the host given. Before, ttf refused the argument ("local services over
https are not supported"), and pointing it at the port in plain HTTP gave a bare 502. Now the
wrong scheme either way gets a 502 that says which scheme to use (ngrok's ERR_NGROK_3004)."""

import json
import os
import types

import pytest

import localsrv
import pki
import tunnelkit as tk
from test_inspector import Api
from test_stream import ws_connect


@pytest.fixture(scope="module")
def selfsigned(tmp_path_factory):
    d = tmp_path_factory.mktemp("localtls")
    return pki.make_self_signed(d, "dev", ["localhost"], ["127.0.0.1", "::1"])


@pytest.fixture
def tls_srv(stack, selfsigned):
    return stack.closing(localsrv.TlsLocalServer(*selfsigned))


def through(d, a, method, target, headers=(), body=b""):
    return tk.http(d.port, method, target, tk.sub_host(d, a.tunnel_id), headers, body)


@pytest.mark.parametrize("mode", ["binary", "json"])
def test_https_local_service(stack, tls_srv, mode):
    d = stack.ttfd()
    a = stack.ttf(d.endpoint(), "https://localhost:%d" % tls_srv.port, "--no-inspect",
                  "--protocol", mode)
    a.proc.wait_line(r"Local service: https://localhost:%d$" % tls_srv.port, 5, stream="err")
    body = os.urandom(300_000)
    for _ in range(3):  # the pooled TLS connection is reused
        r = through(d, a, "POST", "/echo?x=1", [("Content-Type", "application/octet-stream")],
                    body)
        assert r.status == 200, (r.status, r.body[:200])
        doc = json.loads(r.body)
        assert (doc["method"], doc["target"], doc["body_len"]) == ("POST", "/echo?x=1", len(body))
        assert doc["body_b64"] and json.loads(r.body)["local_port"] == tls_srv.port
    assert tls_srv.sni and set(tls_srv.sni) == {"localhost"}, tls_srv.sni
    assert tls_srv.state.connections < 3, tls_srv.state.connections


def test_https_local_service_websocket_and_ipv6(stack, selfsigned):
    srv6 = stack.closing(localsrv.TlsLocalServer(*selfsigned, host="::1"))
    d = stack.ttfd()
    a = stack.ttf(d.endpoint(), "https://[::1]:%d" % srv6.port, "--no-inspect")
    c = ws_connect(d.port, tk.sub_host(d, a.tunnel_id))
    try:
        payload = os.urandom(70_000)
        c.send(tk.ws_frame(2, payload, mask=True))
        assert tk.ws_read_message(c.read_exact) == (2, False, payload)
    finally:
        c.close()
    assert srv6.sni == [None]  # an IP literal: no SNI (RFC 6066 §3)


def test_https_local_service_replay_and_config_file(stack, tls_srv):
    d = stack.ttfd()
    cfg = tk.write_config("tunnels:\n  dev:\n    addr: https://localhost:%d\n" % tls_srv.port)
    stack.closing(types.SimpleNamespace(close=lambda: os.unlink(cfg)))
    a = types.SimpleNamespace(proc=stack.add_proc(tk.Proc(
        "ttf", [tk.TTF_BIN, "-e", d.endpoint(), "--inspect", "127.0.0.1:0", "--config", cfg])))
    m, _ = a.proc.wait_line(r"^Tunnel dev: http://([a-z0-9]+)\.\S+ -> https://localhost:%d$"
                            % tls_srv.port, 15)
    a.tunnel_id = m.group(1)
    r = through(d, a, "POST", "/counter", body=b"once")
    assert (r.status, json.loads(r.body)["n"]) == (200, 1), r.body
    api = Api(a.proc.wait_line(r"^Inspector: (http://\S+)$", 5)[0].group(1))
    s = api.wait_entry(lambda s: s["target"] == "/counter", "the original")
    new = api.replay(s["id"])
    x = api.wait_entry(lambda e: e["id"] == new["id"], "the replay")
    assert (x["state"], x["status"]) == ("done", 200), x
    assert json.loads(api.detail(x["id"])["response"]["body"]["text"]) == {"n": 2, "body": "once"}


def test_wrong_scheme_either_way_says_which_to_use(stack, tls_srv):
    plain = stack.local()
    d = stack.ttfd()
    a = stack.ttf(d.endpoint(), tls_srv.port, "--no-inspect")  # http:// to the HTTPS port
    r = through(d, a, "GET", "/")
    assert r.status == 502, (r.status, r.body)
    assert b"if it serves HTTPS, tunnel https://127.0.0.1:%d" % tls_srv.port in r.body, r.body
    b = stack.ttf(d.endpoint(), "https://127.0.0.1:%d" % plain.port, "--no-inspect")
    r = through(d, b, "GET", "/")
    assert r.status == 502, (r.status, r.body)
    assert b"does not speak TLS on this port: tunnel http://" in r.body, r.body
    assert plain.state.requests == 0  # the ClientHello never became a request
