# SPDX-License-Identifier: MIT
"""ttfd frames every response itself and reads every request strictly, in both wire modes
(issue 11 items 1, 3, 6, 7, 9 and issue 12 items 2 and 6, the server side).

The local app (scriptapp.ScriptApp) writes its answers byte for byte: chunked bodies whatever the
client's version, 103 Early Hints, HTML with root-relative links, redirects, endless event
streams. What reaches it is recorded, so a request smuggled through the tunnel would show up.
"""

import json
import select
import socket
import threading
import time

import pytest

import scriptapp
import tunnelkit as tk
from conftest import make_tunnel

CHUNKS = [b"first piece;", b"second piece;", b"the end"]
CHUNKED_BODY = b"".join(CHUNKS)


def chunked(req, conn):
    """Chunked coding however the request came (ttf speaks HTTP/1.1 to the app), the end of the
    body a moment after its start: its length is not known when the head goes out."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked"
                 b"\r\n\r\n%x\r\n%s\r\n" % (len(CHUNKS[0]), CHUNKS[0]))
    time.sleep(0.3)
    out = b""
    for part in CHUNKS[1:]:
        out += b"%x\r\n%s\r\n" % (len(part), part)
    conn.sendall(out + b"0\r\n\r\n")
    return True


def hints(req, conn):
    conn.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n")
    time.sleep(0.05)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
    return True


PAGE = (b"<!doctype html><html><head><title>docs</title></head><body>"
        b"<a href=\"/docs/guide\">guide</a><img src='/img/logo.png'>"
        b"<script>SwaggerUIBundle({url: '/openapi.json', dom_id: '#ui'})</script>"
        b"<a href=\"https://example.com/x\">out</a></body></html>")


def page(req, conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(PAGE), PAGE))
    return True


def css(req, conn):
    body = b"body{background:url('/img/bg.png')}"
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/css\r\nContent-Length: %d\r\n\r\n%s"
                 % (len(body), body))
    return True


def redirect(req, conn):
    conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: /login?next=/docs\r\nContent-Length: 0\r\n\r\n")
    return True


def echo(req, conn):
    doc = json.dumps({"target": req.target, "headers": req.headers,
                      "body_len": len(req.body)}).encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-echo\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(doc), doc))
    return True


def endless_events(app):
    def handler(req, conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        n = 0
        try:
            while not app.stopping:
                ev = b"data: %d\n\n" % n
                conn.sendall(b"%x\r\n%s\r\n" % (len(ev), ev))
                n += 1
                time.sleep(0.05)
        except OSError:
            app.note("events-ended:" + req.target)
        return False
    return handler


def upload_403(app):
    """Notes the head at once, answers 403 after 5 body bytes (never reads the rest)."""
    def handler(req, conn):
        app.note("head:" + req.target)
        buf = req.buf
        got = b""
        while len(got) < 5 + 3:  # "5\r\n" and 5 bytes of the first chunk
            if not buf[0]:
                data = conn.recv(65536)
                if not data:
                    return False
                buf[0] += data
            got += buf[0]
            buf[0] = b""
        conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope")
        app.note("answered:" + req.target)
        return False
    handler.streams_body = True
    return handler


def make_app():
    app = scriptapp.ScriptApp({"/chunked": chunked, "/hints": hints, "/page": page,
                               "/style": css, "/redirect": redirect})
    app.routes["/events"] = endless_events(app)
    app.routes["/upload403"] = upload_403(app)
    app.routes["/"] = echo
    return app


@pytest.fixture(scope="module", params=["bin", "json"])
def t(request, mstack):
    app = make_app()
    mstack.items.append(("server", app, None))
    args = ("--protocol", "json") if request.param == "json" else ()
    tun = make_tunnel(mstack, ttfd_args=("--max-header-size", "1048576"), ttf_args=args,
                      local=app)
    tun.mode = request.param
    tun.app = app
    return tun


def raw_exchange(port, data, timeout=20):
    """Sends data on a fresh connection and reads until the server closes it (bounded)."""
    c = tk.RawConn(port, timeout=timeout)
    try:
        c.send(data)
        return c.read_to_eof()
    finally:
        c.close()


# ---------------------------------------------------------------- HTTP/1.0 clients (11.1)

@pytest.mark.parametrize("keep_alive", [False, True])
def test_http10_client_to_a_chunking_app(t, keep_alive):
    req = b"GET /chunked HTTP/1.0\r\nHost: " + t.host.encode() + b"\r\n"
    if keep_alive:
        req += b"Connection: keep-alive\r\n"
    out = raw_exchange(t.port, req + b"\r\n")  # returns only once ttfd closes the connection
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), out
    lower = head.lower()
    assert b"transfer-encoding" not in lower, head
    assert b"connection: close" in lower, head
    assert body == CHUNKED_BODY, body


def test_http11_client_gets_chunked_and_keeps_the_connection(t):
    c = tk.RawConn(t.port)
    try:
        for _ in range(2):
            r = c.request("GET", "/chunked", t.host)
            assert r.status == 200 and r.get("Transfer-Encoding") == "chunked"
            assert r.body == CHUNKED_BODY
            assert r.get("Connection") is None
    finally:
        c.close()


# ---------------------------------------------------------------- interim responses (11.7)

def test_early_hints_reach_http11_clients(t):
    """Both modes (JSON mode: relay_interim agreed with ttfd, docs/protocol.md §2)."""
    c = tk.RawConn(t.port)
    try:
        c.send(tk.build_request("GET", "/hints", t.host))
        status, _, heads, _ = c.read_head()
        assert status == 103
        assert ("Link", "</style.css>; rel=preload; as=style") in heads
        status, _, heads, _ = c.read_head()
        assert status == 200
        assert c.read_exact(2) == b"ok"
    finally:
        c.close()


def test_no_interim_response_to_http10_clients(t):
    out = raw_exchange(t.port, b"GET /hints HTTP/1.0\r\nHost: " + t.host.encode() + b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 "), out
    assert b"103" not in out.split(b"\r\n")[0]


# ---------------------------------------------------------------- big request heads (11.3)

@pytest.mark.parametrize("kib", [20, 40])
def test_big_request_head_reaches_the_app(t, kib):
    cookie = "k=" + "v" * (kib * 1024)
    r = tk.http(t.port, "GET", "/big-head", t.host, [("Cookie", cookie), ("X-After", "1")])
    assert r.status == 200, r.body
    doc = json.loads(r.body)
    got = [v for n, v in doc["headers"] if n.lower() == "cookie"]
    assert got == [cookie]
    assert [v for n, v in doc["headers"] if n.lower() == "x-after"] == ["1"]


def test_head_over_one_json_message_reaches_the_app(t):
    """300 KiB of fields: more than one JSON message (128 KB) holds; the head continues in
    http_request_headers messages in JSON mode."""
    cookies = [("Cookie", "c%d=" % i + chr(ord("a") + i) * (60 * 1024)) for i in range(5)]
    r = tk.http(t.port, "GET", "/huge-head", t.host, cookies + [("X-Last", "yes")])
    assert r.status == 200, r.body
    doc = json.loads(r.body)
    assert [v for n, v in doc["headers"] if n.lower() == "cookie"] == [v for _, v in cookies]
    assert [v for n, v in doc["headers"] if n.lower() == "x-last"] == ["yes"]


def test_one_field_line_over_a_json_message(t):
    """One 200 KiB field: binary mode carries it; JSON mode cannot split a field line over
    messages, and says which limit (431, never a 502 blaming the local service or a hang)."""
    value = "v" * (200 * 1024)
    r = tk.http(t.port, "GET", "/one-big-field", t.host, [("X-Big", value)])
    if t.mode == "bin":
        assert r.status == 200
        doc = json.loads(r.body)
        assert [v for n, v in doc["headers"] if n.lower() == "x-big"] == [value]
    else:
        assert r.status == 431 and b"JSON mode" in r.body, r.body
        assert "/one-big-field" not in t.app.targets()


def test_head_over_the_limit_is_431(t):
    r = tk.http(t.port, "GET", "/too-big", t.host, [("Cookie", "x" * (1024 * 1024))])
    assert r.status == 431


# ---------------------------------------------------------------- strict bodies (12.2)

@pytest.mark.parametrize("name,body", [
    ("bare LF in a chunk extension", b"0;x\n\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("two bytes in place of CRLF", b"5\r\nhelloXY0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n"),
    ("LF alone after chunk data", b"5\r\nhello\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n"),
])
def test_bad_chunked_body_reaches_nothing(t, name, body):
    before = len(t.app.requests)
    req = (b"POST /upload HTTP/1.1\r\nHost: " + t.host.encode()
           + b"\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    out = raw_exchange(t.port, req)
    assert out.startswith(b"HTTP/1.1 400 "), out
    ok = tk.http(t.port, "GET", "/after", t.host)
    assert ok.status == 200
    # the request whose body broke never reached the app; /after did; nothing smuggled
    targets = t.app.targets()[before:]
    assert targets == ["/after"], targets


def test_request_body_reaches_the_app_decoded_and_reframed(t):
    body = b"a" * 70000
    r = tk.http(t.port, "POST", "/echo", t.host, body=body, chunked=True)
    assert r.status == 200
    assert json.loads(r.body)["body_len"] == len(body)
    req = t.app.requests[-1]
    assert req.body == body


# ---------------------------------------------------------------- streaming and cancel (11.6)

def test_client_leaving_an_endless_stream_stops_it_at_the_app(t):
    target = "/events/%s" % t.mode
    c = tk.RawConn(t.port)
    c.send(tk.build_request("GET", target, t.host))
    status, _, _, _ = c.read_head()
    assert status == 200
    c.read_until(b"data: 2")
    t_close = time.monotonic()
    c.close()
    t_end = t.app.wait_event("events-ended:" + target, 10 * tk.SLOW)
    assert t_end - t_close < 1.0 * tk.SLOW, t_end - t_close


def test_slow_upload_reaches_the_app_as_it_comes_and_an_early_403_returns_at_once(t):
    target = "/upload403/%s" % t.mode
    c = tk.RawConn(t.port, timeout=20)
    try:
        c.send(b"POST " + target.encode() + b" HTTP/1.1\r\nHost: " + t.host.encode()
               + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
        # the head reaches the app before any body byte was written
        t.app.wait_event("head:" + target, 5 * tk.SLOW)
        c.send(b"5\r\nhello\r\n")
        t_sent = time.monotonic()
        r = c.read_response("POST")
        assert r.status == 403 and r.body == b"nope"
        assert time.monotonic() - t_sent < 2 * tk.SLOW
        # the body was not finished: the connection closes after the answer
        assert r.get("Connection") == "close"
    finally:
        c.close()


# ---------------------------------------------------------------- deadlines (12.6)

def test_slow_head_gets_408_within_the_deadline(stack):
    app = make_app()
    stack.items.append(("server", app, None))
    tun = make_tunnel(stack, ttfd_args=("--header-timeout", "2"), local=app)
    c = tk.RawConn(tun.port, timeout=30)
    try:
        head = b"GET /slow HTTP/1.1\r\nHost: " + tun.host.encode() + b"\r\nX-A: 1\r\n\r\n"
        t0 = time.monotonic()
        answer = b""
        for i in range(len(head) - 2):  # one byte every 0.25 s (the idle timer would restart)
            try:
                c.send(head[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
            readable, _, _ = select.select([c.sock], [], [], 0.25)  # pacing, and the answer
            if readable:
                break
        answer = c.read_to_eof()
        took = time.monotonic() - t0
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert 1.5 < took < 2 + 3 * tk.SLOW, took
        assert app.targets() == []
    finally:
        c.close()


def test_stalled_body_gets_408(stack):
    app = scriptapp.ScriptApp({"/": echo})  # waits for the whole body
    stack.items.append(("server", app, None))
    tun = make_tunnel(stack, ttfd_args=("--body-timeout", "2"), local=app)
    c = tk.RawConn(tun.port, timeout=30)
    try:
        t0 = time.monotonic()
        c.send(b"POST /stall HTTP/1.1\r\nHost: " + tun.host.encode()
               + b"\r\nContent-Length: 100\r\n\r\n0123456789")
        answer = c.read_to_eof()
        took = time.monotonic() - t0
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert 1.5 < took < 2 + 3 * tk.SLOW, took
    finally:
        c.close()


# ---------------------------------------------------------------- path routing (11.9)

def test_path_mode_rewrites_links_and_location(t):
    pid = "/" + t.id
    r = tk.http(t.port, "GET", pid + "/page", t.phost)
    assert r.status == 200
    assert b'href="%s/docs/guide"' % pid.encode() in r.body
    assert b"src='%s/img/logo.png'" % pid.encode() in r.body
    assert b"url: '%s/openapi.json'" % pid.encode() in r.body  # the demo's /docs
    assert b'href="https://example.com/x"' in r.body
    assert b"window.__TUNNEL_CONTEXT__" in r.body
    assert r.get("Content-Length") is None or int(r.get("Content-Length")) == len(r.body)
    r = tk.http(t.port, "GET", pid + "/style.css", t.phost)
    assert b"url('%s/img/bg.png')" % pid.encode() in r.body
    r = tk.http(t.port, "GET", pid + "/redirect", t.phost)
    assert r.status == 302 and r.get("Location") == pid + "/login?next=/docs"


def test_subdomain_mode_leaves_bodies_and_location_alone(t):
    r = tk.http(t.port, "GET", "/page", t.host)
    assert r.body == PAGE and r.get("Content-Length") == str(len(PAGE))
    r = tk.http(t.port, "GET", "/redirect", t.host)
    assert r.get("Location") == "/login?next=/docs"


def test_path_mode_rewritten_body_to_http10_client(t):
    out = raw_exchange(t.port, b"GET /" + t.id.encode() + b"/page HTTP/1.0\r\nHost: "
                       + t.phost.encode() + b"\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"transfer-encoding" not in head.lower()
    assert body.endswith(b"</html>") and b'href="/%s/docs/guide"' % t.id.encode() in body
