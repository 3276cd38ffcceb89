# SPDX-License-Identifier: MIT
"""Requests through one binary-mode tunnel: methods, query strings, headers, cookies, binary
bodies, both routing modes, keep-alive, 200 concurrent requests."""

import base64
import concurrent.futures
import http.client
import json
import os
import threading

import pytest

import scriptapp
import tunnelkit as tk
from conftest import make_tunnel


def echo(resp):
    assert resp.status == 200, "status %d, body %r" % (resp.status, resp.body[:300])
    return json.loads(resp.body)


def header_values(doc, name):
    return [v for (n, v) in doc["headers"] if n.lower() == name.lower()]


METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND", "MKCOL", "REPORT"]


@pytest.mark.parametrize("method", METHODS)
def test_method_reaches_local_service(tunnel, method):
    body = b"" if method in ("GET", "DELETE", "OPTIONS") else ("<x>%s body</x>" % method).encode()
    headers = [("X-Test", "method-%s" % method)]
    if method == "PROPFIND":
        headers.append(("Depth", "1"))
        headers.append(("Content-Type", "application/xml"))
        body = b'<?xml version="1.0"?><propfind xmlns="DAV:"><allprop/></propfind>'
    r = tk.http(tunnel.port, method, "/m/%s?x=1" % method.lower(), tunnel.host, headers, body)
    doc = echo(r)
    assert doc["method"] == method
    assert doc["target"] == "/m/%s?x=1" % method.lower()
    assert base64.b64decode(doc["body_b64"]) == body
    assert header_values(doc, "X-Test") == ["method-%s" % method]
    if method == "PROPFIND":
        assert header_values(doc, "Depth") == ["1"]
    assert r.get("X-Echo-Method") == method


def test_head_has_no_body_and_connection_stays_usable(tunnel):
    c = tk.RawConn(tunnel.port)
    try:
        r = c.request("HEAD", "/head-test", tunnel.host)
        assert r.status == 200
        assert r.get("X-Echo-Method") == "HEAD"
        assert r.body == b""
        # A GET right after on the same connection: the HEAD answer must not have left body
        # bytes (its Content-Length describes a body that is not sent).
        r2 = c.request("GET", "/after-head", tunnel.host)
        assert echo(r2)["target"] == "/after-head"
    finally:
        c.close()


QUERIES = [
    "/q?a=1&a=2&b=%20x&c",
    "/q?d=%2F%3F%26%3D&e=caf%C3%A9&f=a+b&&g=",
    "/enc%2Fpath/semi;p=1/x?&&=&%00",
    "/q?json={%22k%22:[1,2]}&pipe=|&star=*&tilde=~&caret=^",
    "/?",
    "/q?" + "long=" + "x" * 3000,
]


@pytest.mark.parametrize("target", QUERIES)
def test_query_string_byte_exact(tunnel, target):
    doc = echo(tk.http(tunnel.port, "GET", target, tunnel.host))
    assert doc["target"] == target


def test_path_mode_query_byte_exact(tunnel):
    target = "/q?a=1&a=2&b=%20x&c"
    doc = echo(tk.http(tunnel.port, "GET", "/%s%s" % (tunnel.id, target), tunnel.phost))
    assert doc["target"] == target


def test_several_set_cookie_byte_exact(tunnel):
    from localsrv import COOKIE_VALUES, COOKIES_BODY
    r = tk.http(tunnel.port, "GET", "/cookies", tunnel.host)
    assert r.status == 200
    assert r.get_all("Set-Cookie") == COOKIE_VALUES
    assert r.get_all("X-Multi") == ["one", "two"]
    assert r.body == COOKIES_BODY
    # The raw bytes of each line, too.
    for c in COOKIE_VALUES:
        assert ("\r\nSet-Cookie: %s\r\n" % c).encode() in r.raw_head.replace(b"set-cookie", b"Set-Cookie")


def test_repeated_request_headers_kept_in_order(tunnel):
    hdrs = [("X-Rep", "1"), ("Cookie", "a=1"), ("X-Rep", "2, 3"), ("Cookie", "b=2"), ("X-Rep", "4")]
    doc = echo(tk.http(tunnel.port, "GET", "/rep", tunnel.host, hdrs))
    # docs/protocol.md §4: every other header is kept, in order, repeated ones repeated (no
    # merging: the local service sees the field lines the client sent).
    got = [(n, v) for (n, v) in doc["headers"] if n.lower() in ("x-rep", "cookie")]
    assert got == hdrs, doc["headers"]


def test_hop_by_hop_request_headers_removed_and_forwarded_added(tunnel):
    hdrs = [("Connection", "keep-alive, X-Custom-Hop"), ("X-Custom-Hop", "secret"),
            ("Keep-Alive", "timeout=5"), ("TE", "trailers"), ("Proxy-Authorization", "Basic eA=="),
            ("X-End-To-End", "kept")]
    doc = echo(tk.http(tunnel.port, "GET", "/hop-req", tunnel.host, hdrs))
    names = [n.lower() for n, _ in doc["headers"]]
    for gone in ("x-custom-hop", "keep-alive", "te", "proxy-authorization"):
        assert gone not in names, "hop-by-hop %s reached the local service: %r" % (gone, doc["headers"])
    for v in header_values(doc, "Connection"):
        assert "x-custom-hop" not in v.lower()
    assert header_values(doc, "X-End-To-End") == ["kept"]
    assert header_values(doc, "X-Forwarded-For")[-1].split(",")[-1].strip() == "127.0.0.1"
    assert header_values(doc, "X-Forwarded-Proto") == ["http"]
    assert header_values(doc, "X-Forwarded-Host") == [tunnel.host]


def test_x_forwarded_for_appended(tunnel):
    doc = echo(tk.http(tunnel.port, "GET", "/xff", tunnel.host, [("X-Forwarded-For", "203.0.113.9")]))
    xff = ", ".join(header_values(doc, "X-Forwarded-For"))
    assert [p.strip() for p in xff.split(",")] == ["203.0.113.9", "127.0.0.1"]


@pytest.mark.parametrize("mode", ["bin", "json"])
def test_spoofed_forwarding_fields_never_reach_the_app(stack, mode):
    """Only the edge says where a request came from (Traefik #4099, localtunnel #482): a
    client's X-Forwarded-Host/-Proto/-Prefix are replaced, its X-Forwarded-Port and RFC 7239
    Forwarded removed (before: both reached the app, which builds links with the port, and
    Rack, Spring and Symfony read Forwarded before X-Forwarded-*)."""
    t = make_tunnel(stack, ttf_args=("--protocol", "json") if mode == "json" else ())
    spoof = [("X-Forwarded-Host", "evil.example"), ("X-Forwarded-Proto", "https"),
             ("X-Forwarded-Port", "1"), ("X-Forwarded-Prefix", "/evil"),
             ("Forwarded", "for=203.0.113.9;host=evil.example;proto=https"),
             ("forwarded", "for=198.51.100.1")]
    claims = [(n, "203.0.113.9") for n in CLIENT_CLAIMS]
    doc = echo(tk.http(t.port, "GET", "/spoof", t.host, spoof + claims + [("X-After", "kept")]))
    assert header_values(doc, "X-Forwarded-Host") == [t.host]
    assert header_values(doc, "X-Forwarded-Proto") == ["http"]
    for gone in ("X-Forwarded-Port", "X-Forwarded-Prefix", "Forwarded") + CLIENT_CLAIMS:
        assert header_values(doc, gone) == [], (gone, doc["headers"])
    assert header_values(doc, "X-After") == ["kept"]
    xff = ", ".join(header_values(doc, "X-Forwarded-For"))
    assert xff == "127.0.0.1", doc["headers"]  # X_Forwarded_For is no member


# docs/protocol.md §4: what a client says of its own address, scheme or host, as a front proxy
# would say it, never reaches the app from an untrusted peer (before: X-Real-IP and the rest
# passed unchanged, and Rack, PHP and many apps believe them)
CLIENT_CLAIMS = ("X-Real-IP", "True-Client-IP", "CF-Connecting-IP", "X-Client-IP", "Client-IP",
                 "X-Cluster-Client-IP", "X-Forwarded-Ssl", "X-Forwarded-Scheme", "X_Real_IP",
                 "X_Forwarded_For", "Client-Cert", "X-Forwarded-Client-Cert", "X-Original-URL")


@pytest.mark.parametrize("mode", ["bin", "json"])
def test_claims_in_request_trailers_never_reach_the_app(stack, mode):
    """A chunked request's trailer section is no way round the claims rule: X-Forwarded-*,
    Forwarded and the claims above never reach the app there either (before: all passed, and a
    server merging trailers into the headers, as Apache httpd's MergeTrailers, CVE-2013-5704,
    would believe them over the edge's fields); other trailer fields still arrive."""
    got = []

    def trailers(req, conn):
        _, tr = scriptapp.ScriptApp.read_chunked(conn, req.buf)
        got.append(tr)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        return True

    trailers.streams_body = True
    app = stack.closing(scriptapp.ScriptApp({"/": trailers}, read_body=False))
    t = make_tunnel(stack, ttf_args=("--protocol", "json") if mode == "json" else (), local=app)
    spoof = ["X-Forwarded-For: 203.0.113.9", "Forwarded: for=203.0.113.9",
             "X-Forwarded-Host: evil.example", "X-Forwarded-Proto: https"]
    spoof += ["%s: 203.0.113.9" % n for n in CLIENT_CLAIMS]
    c = stack.closing(tk.RawConn(t.port))
    c.send(("POST /t HTTP/1.1\r\nHost: %s\r\nTE: trailers\r\nTransfer-Encoding: chunked\r\n"
            "Trailer: X-Checksum\r\n\r\n3\r\nabc\r\n0\r\n%s\r\nX-Checksum: 1\r\n\r\n"
            % (t.host, "\r\n".join(spoof))).encode())
    assert c.read_response().status == 200
    assert got == [[b"X-Checksum: 1"]]


def test_local_app_sees_the_public_host_by_default(tunnel):
    doc = echo(tk.http(tunnel.port, "GET", "/host", tunnel.host))
    assert header_values(doc, "Host") == [tunnel.host]


@pytest.mark.parametrize("flag,want", [("rewrite", "local"), ("app.test:8443", "app.test:8443"),
                                       ("preserve", "public")])
def test_host_header_flag(stack, flag, want):
    t = make_tunnel(stack, ttf_args=("--host-header", flag))
    doc = echo(tk.http(t.port, "GET", "/host", t.host))
    expected = {"local": "127.0.0.1:%d" % t.local.port, "public": t.host}.get(want, want)
    assert header_values(doc, "Host") == [expected]


def test_hop_by_hop_response_headers_removed(tunnel):
    r = tk.http(tunnel.port, "GET", "/hop", tunnel.host)
    assert r.status == 200 and r.body == b"hop\n"
    assert r.get("X-Resp-Hop") is None, r.raw_head
    assert all("timeout=7" not in v for v in r.get_all("Keep-Alive")), r.raw_head
    assert all("x-resp-hop" not in v.lower() for v in r.get_all("Connection")), r.raw_head
    assert r.get("X-Resp-Keep") == "yes"


def test_binary_bodies_byte_exact_both_ways(tunnel):
    payloads = [bytes(range(256)), bytes(range(256)) * 64 + os.urandom(200_000),
                b"\r\n\r\n0\r\n\r\n" * 100, b"\x00" * 70_000]
    c = tk.RawConn(tunnel.port)
    try:
        for body in payloads:
            r = c.request("POST", "/raw-echo", tunnel.host, [("Content-Type", "application/octet-stream")], body)
            assert r.status == 200
            assert r.body == body, "body differs (len %d vs %d)" % (len(r.body), len(body))
    finally:
        c.close()


def test_binary_body_chunked_upload(tunnel):
    body = os.urandom(300_000) + bytes(range(256))
    r = tk.http(tunnel.port, "POST", "/raw-echo", tunnel.host, body=body, chunked=True)
    assert r.status == 200 and r.body == body


@pytest.mark.parametrize("mode", ["length", "chunked", "close"])
def test_download_framings(tunnel, mode):
    n = 3 * tk.MB + 12345
    r = tk.http(tunnel.port, "GET", "/download?n=%d&mode=%s" % (n, mode), tunnel.host)
    assert r.status == 200
    assert len(r.body) == n
    assert r.body == b"".join(tk.pattern_chunks(n))


def test_subdomain_routing_case_insensitive_host(tunnel):
    host = "%s.LOCALHOST:%d" % (tunnel.id.upper(), tunnel.port)
    doc = echo(tk.http(tunnel.port, "GET", "/case", host))
    assert doc["target"] == "/case"


# (not "/todos/": path mode rewrites API-looking values in JSON bodies, the echo's too, as the
# Lambda does; docs/protocol.md §4)
@pytest.mark.parametrize("suffix,expected", [
    ("", "/"), ("/", "/"), ("?a=b&c", "/?a=b&c"), ("/x/y?z=%20", "/x/y?z=%20"),
    ("/items/", "/items/"), ("/a//b", "/a//b")])
def test_path_routing_strips_prefix(tunnel, suffix, expected):
    doc = echo(tk.http(tunnel.port, "GET", "/" + tunnel.id + suffix, tunnel.phost))
    assert doc["target"] == expected
    assert header_values(doc, "X-Forwarded-Prefix") == ["/" + tunnel.id]


def test_printed_urls_match_routing(tunnel):
    assert tunnel.ttf.url == "http://%s" % tunnel.host
    assert tunnel.ttf.path_url == "http://%s/%s" % (tunnel.phost, tunnel.id)


def test_keep_alive_public_and_local(tunnel):
    before = tunnel.local.state.connections
    c = http.client.HTTPConnection("127.0.0.1", tunnel.port, timeout=20 * tk.SLOW)
    try:
        for i in range(20):
            c.request("GET", "/ka/%d" % i, headers={"Host": tunnel.host})
            r = c.getresponse()
            doc = json.loads(r.read())
            assert doc["target"] == "/ka/%d" % i
    finally:
        c.close()
    opened = tunnel.local.state.connections - before
    # The agent reuses its connections to the local service (keep-alive).
    assert opened <= 5, "the agent opened %d local connections for 20 sequential requests" % opened


def test_200_concurrent_requests(tunnel):
    n = 200
    barrier = threading.Barrier(n, timeout=30 * tk.SLOW)

    def one(i):
        body = ("request %d " % i).encode() * (i + 1)
        barrier.wait()
        conn = http.client.HTTPConnection("127.0.0.1", tunnel.port, timeout=60 * tk.SLOW)
        try:
            conn.request("POST", "/slow/%d?ms=100&i=%d" % (i, i), body=body,
                         headers={"Host": tunnel.host, "X-I": str(i)})
            r = conn.getresponse()
            data = r.read()
            if r.status != 200:
                return "request %d: status %d %r" % (i, r.status, data[:200])
            doc = json.loads(data)
            if doc["target"] != "/slow/%d?ms=100&i=%d" % (i, i):
                return "request %d: got the answer for %s" % (i, doc["target"])
            if base64.b64decode(doc["body_b64"]) != body or header_values(doc, "X-I") != [str(i)]:
                return "request %d: body/header mixed up" % i
            return None
        finally:
            conn.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as ex:
        errors = [e for e in ex.map(one, range(n)) if e]
    assert not errors, "%d of %d failed: %s" % (len(errors), n, errors[:5])


def test_status_codes_passed_through(tunnel):
    for code in (201, 204, 301, 404, 418, 500, 503):
        r = tk.http(tunnel.port, "GET", "/status/%d" % code, tunnel.host)
        assert r.status == code


def test_ttfd_logs_one_line_per_request(tunnel):
    tk.http(tunnel.port, "PATCH", "/log-line-check", tunnel.host, body=b"abc")
    tk.wait_for(lambda: any("/log-line-check" in ln and "PATCH" in ln and "200" in ln
                            for ln in tunnel.ttfd.proc.err_lines), 5,
                "a ttfd log line with method, path and status")


def test_pipelined_requests_answered_in_order(tunnel):
    c = tk.RawConn(tunnel.port)
    try:
        c.send(b"".join(tk.build_request("POST" if i % 2 else "GET", "/pipe/%d" % i, tunnel.host,
                                         body=b"b%d" % i if i % 2 else b"") for i in range(5)))
        for i in range(5):
            doc = echo(c.read_response())
            assert doc["target"] == "/pipe/%d" % i
    finally:
        c.close()


def test_connection_close_from_client(tunnel):
    c = tk.RawConn(tunnel.port)
    try:
        r = c.request("GET", "/bye", tunnel.host, [("Connection", "close")])
        assert echo(r)["target"] == "/bye"
        assert c.read_to_eof() == b"", "ttfd kept the connection open after Connection: close"
    finally:
        c.close()


def test_expect_100_continue(tunnel):
    body = os.urandom(50_000)
    c = tk.RawConn(tunnel.port)
    try:
        head = tk.build_request("PUT", "/raw-echo", tunnel.host, [("Expect", "100-continue")], body)
        c.send(head[:len(head) - len(body)])
        # ttfd answers "100 Continue" itself (HTTP/1.1 request with a body): wait for it (the
        # connection's deadline) before sending the body, as a client that honours Expect would.
        interim = c.read_response()
        assert interim.status == 100, interim.raw_head
        c.send(body)
        r = c.read_response()
        assert r.status == 200 and r.body == body
    finally:
        c.close()


def test_two_tunnels_do_not_mix(stack):
    d = stack.ttfd()
    locals_ = [stack.local(), stack.local()]
    agents = [stack.ttf(d.endpoint(), s.port) for s in locals_]
    assert agents[0].tunnel_id != agents[1].tunnel_id

    def one(i):
        k = i % 2
        host = tk.sub_host(d, agents[k].tunnel_id)
        doc = echo(tk.http(d.port, "POST", "/who/%d" % i, host, body=b"%d" % i, timeout=60))
        return header_values(doc, "Host") == [host] and doc["local_port"] == locals_[k].port and \
            doc["target"] == "/who/%d" % i and base64.b64decode(doc["body_b64"]) == b"%d" % i

    with concurrent.futures.ThreadPoolExecutor(max_workers=40) as ex:
        results = list(ex.map(one, range(80)))
    assert all(results), "requests reached the wrong local service: %s" % results


@pytest.mark.parametrize("public_port,suffix", [("80", ""), ("8443", ":8443")])
def test_domain_and_public_port_in_urls(stack, public_port, suffix):
    srv = stack.local()
    d = stack.ttfd("--domain", "tunnel.example.test", "--public-port", public_port)
    a = stack.ttf(d.endpoint(), srv.port)
    assert a.url == "http://%s.tunnel.example.test%s" % (a.tunnel_id, suffix)
    assert a.path_url == "http://tunnel.example.test%s/%s" % (suffix, a.tunnel_id)
    host = "%s.tunnel.example.test%s" % (a.tunnel_id, suffix)
    assert echo(tk.http(d.port, "GET", "/dom", host))["target"] == "/dom"
    doc = echo(tk.http(d.port, "GET", "/%s/dom" % a.tunnel_id, "tunnel.example.test" + suffix))
    assert doc["target"] == "/dom"


def test_http10_client(tunnel):
    c = tk.RawConn(tunnel.port)
    try:
        c.send(("GET /old?v=1.0 HTTP/1.0\r\nHost: %s\r\n\r\n" % tunnel.host).encode())
        r = c.read_response()
        assert echo(r)["target"] == "/old?v=1.0"
        assert c.read_to_eof() == b"", "an HTTP/1.0 connection without keep-alive must be closed"
    finally:
        c.close()
