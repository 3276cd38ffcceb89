# SPDX-License-Identifier: MIT
"""JSON mode (`ttf --protocol json`, what API Gateway speaks) against ttfd: bodies of 1 MiB both
ways byte-exact (several chunked messages), Set-Cookie, query strings, methods, errors,
concurrent bodies not mixed up, bodies over 10 MiB (no JSON-mode cap: `--max-body-size` in
both modes)."""

import base64
import concurrent.futures
import hashlib
import http.client
import json
import os

import pytest

import tunnelkit as tk
from conftest import make_tunnel


@pytest.fixture(scope="module")
def jt(mstack):
    return make_tunnel(mstack, ttf_args=("--protocol", "json"))


def test_1mb_body_both_ways(jt):
    body = os.urandom(tk.MB)
    r = tk.http(jt.port, "POST", "/raw-echo", jt.host, [("Content-Type", "application/octet-stream")], body)
    assert r.status == 200
    assert len(r.body) == len(body) and r.body == body


def test_1mb_chunked_upload(jt):
    body = os.urandom(tk.MB) + bytes(range(256))
    r = tk.http(jt.port, "POST", "/raw-echo", jt.host, body=body, chunked=True)
    assert r.status == 200 and r.body == body


@pytest.mark.parametrize("mode", ["length", "chunked", "close"])
def test_1mb_download(jt, mode):
    n = tk.MB + 7
    r = tk.http(jt.port, "GET", "/download?n=%d&mode=%s" % (n, mode), jt.host)
    assert r.status == 200 and r.body == b"".join(tk.pattern_chunks(n))


def test_upload_hash_3mb(jt):
    n = 3 * tk.MB
    body = b"".join(tk.pattern_chunks(n))
    r = tk.http(jt.port, "PUT", "/upload", jt.host, body=body)
    assert r.status == 200
    assert json.loads(r.body) == {"len": n, "sha256": hashlib.sha256(body).hexdigest()}


def test_set_cookie_json_mode(jt):
    from localsrv import COOKIE_VALUES, COOKIES_BODY
    r = tk.http(jt.port, "GET", "/cookies", jt.host)
    assert r.status == 200
    assert r.get_all("Set-Cookie") == COOKIE_VALUES
    assert r.get_all("X-Multi") == ["one", "two"]
    assert r.body == COOKIES_BODY


@pytest.mark.parametrize("target", ["/q?a=1&a=2&b=%20x&c", "/q?d=%2F%3F%26&e=caf%C3%A9&f=a+b&&g=",
                                    "/enc%2Fpath?&&="])
def test_query_json_mode(jt, target):
    r = tk.http(jt.port, "GET", target, jt.host)
    assert json.loads(r.body)["target"] == target
    r = tk.http(jt.port, "GET", "/" + jt.id + target, jt.phost)
    assert json.loads(r.body)["target"] == target


@pytest.mark.parametrize("method", ["PROPFIND", "PATCH", "DELETE", "OPTIONS"])
def test_methods_json_mode(jt, method):
    body = b"<propfind/>" if method in ("PROPFIND", "PATCH") else b""
    r = tk.http(jt.port, method, "/m", jt.host, body=body)
    doc = json.loads(r.body)
    assert doc["method"] == method and base64.b64decode(doc["body_b64"]) == body


def test_head_json_mode(jt):
    c = tk.RawConn(jt.port)
    try:
        r = c.request("HEAD", "/head", jt.host)
        assert r.status == 200 and r.get("X-Echo-Method") == "HEAD"
        assert json.loads(c.request("GET", "/after", jt.host).body)["target"] == "/after"
    finally:
        c.close()


def test_local_host_and_forwarded_headers_json_mode(jt):
    doc = json.loads(tk.http(jt.port, "GET", "/h", jt.host, [("Connection", "X-Hop"), ("X-Hop", "1")]).body)
    hv = {}
    for n, v in doc["headers"]:
        hv.setdefault(n.lower(), []).append(v)
    assert hv.get("host") == [jt.host]  # the public Host by default (--host-header preserve)
    assert "x-hop" not in hv
    assert hv.get("x-forwarded-proto") == ["http"]
    assert hv.get("x-forwarded-host") == [jt.host]


def test_concurrent_bodies_not_mixed_json_mode(jt):
    bodies = [os.urandom(200_000 + i * 1000) for i in range(12)]

    def one(i):
        r = tk.http(jt.port, "POST", "/raw-echo?i=%d" % i, jt.host, body=bodies[i], timeout=60)
        return r.status == 200 and r.body == bodies[i]

    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as ex:
        ok = list(ex.map(one, range(12)))
    assert all(ok), "bodies mixed up or failed: %s" % ok


def test_json_mode_upload_over_10mib_arrives_intact(jt):
    """ttfd has no JSON-mode body cap (upstream's 10 MiB was a buffered-body leftover): 12 MiB
    and one byte stream through in pieces, byte for byte, both with a length and chunked."""
    n = 12 * tk.MB + 1
    for chunked in (False, True):
        c = http.client.HTTPConnection("127.0.0.1", jt.port, timeout=60 * tk.SLOW)
        try:
            headers = {"Host": jt.host}
            if not chunked:
                headers["Content-Length"] = str(n)
            c.request("PUT", "/upload", body=tk.pattern_chunks(n, 256 * 1024), headers=headers,
                      encode_chunked=chunked)
            r = c.getresponse()
            data = r.read()
        finally:
            c.close()
        assert r.status == 200, data[:200]
        assert json.loads(data) == {"len": n, "sha256": tk.pattern_sha256(n)}, chunked


@pytest.mark.parametrize("mode", ["binary", "json"])
def test_max_body_size_413_in_both_modes(stack, mode):
    """`ttfd --max-body-size` is the one request-body limit, the same in both wire modes."""
    args = ("--protocol", "json") if mode == "json" else ()
    t = make_tunnel(stack, ttfd_args=("--max-body-size", "2000000"), ttf_args=args)
    body = b"".join(tk.pattern_chunks(2000000))
    r = tk.http(t.port, "PUT", "/upload", t.host, body=body)
    assert r.status == 200 and json.loads(r.body)["len"] == 2000000, r.raw_head
    n = 2000001
    r = tk.http_early_answer(t.port, "POST", "/upload", t.host, tk.pattern_chunks(n, 65536), n)
    assert r.status == 413, r.raw_head
    r = tk.http(t.port, "POST", "/upload", t.host, body=b"z" * n, chunked=True)
    assert r.status == 413, "chunked body over the limit: %d %r" % (r.status, r.raw_head)
    assert tk.http(t.port, "GET", "/after", t.host).status == 200


def test_json_mode_refused_and_timeout(stack):
    d = stack.ttfd("--request-timeout", "30")
    a = stack.ttf(d.endpoint(), tk.free_port(), "--protocol", "json")
    r = tk.http(d.port, "GET", "/", tk.sub_host(d, a.tunnel_id))
    assert r.status == 502, r.raw_head
    srv = stack.local()
    b = stack.ttf(d.endpoint(), srv.port, "--protocol", "json", "--request-timeout", "1")
    r = tk.http(d.port, "GET", "/hang", tk.sub_host(d, b.tunnel_id), timeout=30)
    assert r.status == 504, r.raw_head


def test_subprotocol_selection(jt):
    def offer(protos):
        key = base64.b64encode(os.urandom(16)).decode()
        c = tk.RawConn(jt.port)
        try:
            c.send(tk.build_request("GET", "/_tunnel", "127.0.0.1:%d" % jt.port, [
                ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key),
                ("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Protocol", protos)]))
            status, _, heads, raw = c.read_head()
            assert status == 101, raw
            return [v for n, v in heads if n.lower() == "sec-websocket-protocol"]
        finally:
            c.close()

    assert offer("ttf.bin.v2, ttf.json.v1") == ["ttf.bin.v2"]
    assert offer("ttf.json.v1") == ["ttf.json.v1"]
