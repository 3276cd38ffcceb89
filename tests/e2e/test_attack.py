# SPDX-License-Identifier: MIT
"""Inputs of the kinds public reports against other proxies describe, found by attacking ttfd +
ttf as a new user would, in both wire modes.

- An upgrade request that carries a body (`Upgrade: websocket` or `h2c` on a POST with
  Content-Length or chunked) hung: the stream never opened and the client waited forever. A proxy
  may ignore Upgrade (RFC 9110 §7.8: it is hop-by-hop); ttfd now relays such a request as a plain
  one, without the upgrade, in both modes.
- `OPTIONS * HTTP/1.1` (RFC 9112 §3.2.4) reached the app in JSON mode but got 502 in binary mode
  (the agent refused the asterisk-form in OPEN).
- `CONNECT host:port` got 502 "bad request head" (binary) or 501 "upgrades need the binary
  tunnel protocol" (JSON): a tunnel URL is an origin, not a forward proxy; ttfd answers 501 itself
  in both modes and nothing reaches the agent.
- A JSON-mode agent whose http_response breaks the rules (a CR LF in a header value, a status
  outside 100..599) had its message dropped silently: the client waited for --request-timeout
  and got 504 blaming the local service. Binary mode answers 502 at once; JSON mode now does the
  same and cancels the exchange (protocol_error).
"""

import base64
import hashlib

import pytest

import rawagent as ra
import scriptapp
import tunnelkit as tk
from conftest import make_tunnel
from test_limits import cpu_seconds


def echo(req, conn):
    body = ("%s %s body=%s" % (req.method, req.target, req.body.decode("latin-1"))).encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                 % (len(body), body))
    return True


def many_cookies(req, conn):
    """300 short Set-Cookie lines: about 6 KB of head, far under ttf's 64 KiB limit."""
    fields = b"".join(b"Set-Cookie: c%d=v%d; Path=/\r\n" % (i, i) for i in range(300))
    conn.sendall(b"HTTP/1.1 200 OK\r\n" + fields + b"Content-Length: 2\r\n\r\nok")
    return True


def count_chunks(req, conn):
    """Answers '<chunks> <sha256 of the octets>' for a chunked body."""
    body = b"%d %s" % (req.chunks, hashlib.sha256(req.body).hexdigest().encode())
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    return True


@pytest.fixture(scope="module", params=["bin", "json"])
def t(request, mstack):
    app = scriptapp.ScriptApp({"/cookies": many_cookies, "/chunks": count_chunks, "/": echo,
                               "*": echo})
    mstack.items.append(("server", app, None))
    args = ("--protocol", "json") if request.param == "json" else ()
    tun = make_tunnel(mstack, ttf_args=args, local=app)
    tun.app = app
    return tun


def send(t, data, method="GET", timeout=10):
    c = tk.RawConn(t.port, timeout=timeout)
    try:
        c.send(data)
        return c.read_response(method)
    finally:
        c.close()


@pytest.mark.parametrize("upgrade,framing", [
    ("websocket", "length"), ("websocket", "chunked"), ("h2c", "length")])
def test_upgrade_request_with_a_body_is_relayed_as_a_plain_request(t, upgrade, framing):
    before = len(t.app.targets())
    body = b"hello"
    if framing == "length":
        frame, payload = b"Content-Length: 5\r\n", body
    else:
        frame, payload = b"Transfer-Encoding: chunked\r\n", b"5\r\nhello\r\n0\r\n\r\n"
    req = (b"POST /up HTTP/1.1\r\nHost: " + t.host.encode() + b"\r\nConnection: Upgrade\r\n"
           b"Upgrade: " + upgrade.encode() + b"\r\n" + frame + b"\r\n" + payload)
    r = send(t, req, "POST")
    assert r.status == 200, (r.status, r.body)
    assert r.body == b"POST /up body=hello"
    reqs = t.app.wait_requests(before + 1, 5)
    got = reqs[before]
    assert got.body == body
    assert got.get("Upgrade") is None, got.headers  # the upgrade was not offered to the app
    # and the connection still speaks HTTP: a second request on it works
    c = tk.RawConn(t.port, timeout=10)
    try:
        c.send(req)
        assert c.read_response("POST").status == 200
        assert c.request("GET", "/after", t.host).body == b"GET /after body="
    finally:
        c.close()


def test_options_asterisk_reaches_the_app(t):
    before = len(t.app.targets())
    r = send(t, b"OPTIONS * HTTP/1.1\r\nHost: " + t.host.encode() + b"\r\n\r\n", "OPTIONS")
    assert r.status == 200, (r.status, r.body)
    assert r.body == b"OPTIONS * body="
    assert t.app.targets()[before:] == ["*"]


def test_connect_refused_at_the_edge(t):
    before = len(t.app.targets())
    r = send(t, b"CONNECT " + t.host.encode() + b" HTTP/1.1\r\nHost: " + t.host.encode()
             + b"\r\n\r\n", "CONNECT")
    assert r.status == 501, (r.status, r.body)
    assert b"CONNECT" in r.body
    assert r.get("Connection") == "close"
    assert tk.http(t.port, "GET", "/fine", t.host).status == 200
    assert t.app.targets()[before:] == ["/fine"]


BAD_RESPONSES = [
    ("CRLF in a header value", {"status_code": 200,
                                "headers": {"x-a": ["a\r\nSet-Cookie: evil=1"]}}),
    ("status 99", {"status_code": 99, "headers": {}}),
    ("status 1000", {"status_code": 1000, "headers": {}}),
    ("header value not a string", {"status_code": 200, "headers": {"x-a": [5]}}),
]


@pytest.mark.parametrize("name,fields", BAD_RESPONSES, ids=[b[0] for b in BAD_RESPONSES])
def test_json_agent_bad_response_fails_at_once(stack, name, fields):
    server = stack.ttfd("--state", ":memory:", "--request-timeout", "60")
    a = ra.JsonAgent(server.port)
    try:
        a.ready()
        c = tk.RawConn(server.port, timeout=20)
        c.send(tk.build_request("GET", "/x", tk.sub_host(server, a.tunnel_id)))
        m, _, _ = a.recv_request()
        msg = {"type": "http_response", "request_id": m["request_id"],
               "body": base64.b64encode(b"ok").decode(), "more": False}
        msg.update(fields)
        a.send_json(msg)
        # 502 naming the agent, well before the 60 s request timeout (20 s read deadline)
        r = c.read_response()
        assert r.status == 502, (name, r.status, r.body)
        assert b"agent" in r.body
        assert r.get("Set-Cookie") is None
        cancel = a.recv_type("cancel", timeout=10)
        assert cancel["request_id"] == m["request_id"]
        assert "protocol_error" in cancel.get("reason", "")
        server.proc.wait_line(r"tunnel %s .*protocol_error" % a.tunnel_id, 10, stream="err")
        # the session goes on: the next request is answered normally
        c2 = tk.RawConn(server.port, timeout=20)
        c2.send(tk.build_request("GET", "/y", tk.sub_host(server, a.tunnel_id)))
        m2, _, _ = a.recv_request()
        a.respond(m2["request_id"], 200, {"content-length": ["2"]}, b"ok")
        assert c2.read_response().body == b"ok"
        c.close()
        c2.close()
    finally:
        a.close()


def trailers_app(req, conn):
    """Answers with the trailer fields the request carried (names only), then its own
    trailer section with fields RFC 9110 §6.5.1 keeps out of trailers."""
    got = getattr(req, "trailer_names", [])
    body = ("trailers=%s;announced=%s" % (",".join(got), req.get("Trailer") or "")).encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"
                 b"%x\r\n%s\r\n0\r\nX-Checksum: abc\r\nContent-Length: 99\r\n"
                 b"Transfer-Encoding: chunked\r\nHost: evil.example\r\n\r\n" % (len(body), body))
    return True


def read_chunked_request(req, conn):
    chunks, trailers = scriptapp.ScriptApp.read_chunked(conn, req.buf)
    req.body += b"".join(chunks)
    req.trailer_names = [ln.split(b":")[0].decode("latin-1").lower() for ln in trailers]
    return trailers_app(req, conn)


read_chunked_request.streams_body = True


@pytest.fixture(scope="module", params=["bin", "json"])
def tt(request, mstack):
    app = scriptapp.ScriptApp({"/trailers": read_chunked_request})
    mstack.items.append(("server", app, None))
    args = ("--protocol", "json") if request.param == "json" else ()
    tun = make_tunnel(mstack, ttf_args=args, local=app)
    tun.mode = request.param
    return tun


def test_framing_and_routing_fields_never_travel_as_trailers(tt):
    """A trailer section may not carry framing, routing or authentication fields (RFC 9110
    §6.5.1; Go's net/http refuses a body whose trailers name them): they are dropped both ways,
    the others go on, in both modes (JSON mode: relay_trailers agreed with ttfd, docs/protocol.md
    §2). The Trailer field announcing them is end-to-end (RFC 9110 §6.6.2): it goes on both ways
    where the trailers do."""
    req = (b"POST /trailers HTTP/1.1\r\nHost: " + tt.host.encode() + b"\r\n"
           b"Trailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 1\r\n"
           b"Content-Length: 50\r\nHost: evil.example\r\nTransfer-Encoding: chunked\r\n"
           b"Authorization: Basic eDp5\r\n\r\n")
    c = tk.RawConn(tt.port, timeout=10)
    try:
        c.send(req)
        status, _, heads, _ = c.read_head()
        assert status == 200
        te = [v for n, v in heads if n.lower() == "transfer-encoding"]
        body, trailer = b"", []
        assert te == ["chunked"]
        while True:
            size = int(c.read_until(b"\r\n")[:-2].split(b";")[0], 16)
            if size == 0:
                while True:
                    ln = c.read_until(b"\r\n")[:-2]
                    if not ln:
                        break
                    trailer.append(ln.split(b":")[0].decode().lower())
                break
            body += c.read_exact(size)
            assert c.read_exact(2) == b"\r\n"
    finally:
        c.close()
    announced = [v for n, v in heads if n.lower() == "trailer"]
    assert body == b"trailers=x-sum;announced=X-Sum"
    assert trailer == ["x-checksum"]
    assert announced == ["X-Checksum"]


def test_fragment_in_the_target_is_refused(t):
    """'#' cannot be in a request-target (RFC 9112 §3.2); HAProxy's acceptance of it let
    '/index.html#.png' match a '.png' rule (CVE-2023-45539). 400, and the app sees nothing."""
    before = len(t.app.targets())
    for target in (b"/index.html#.png", b"/a?b=1#c", b"http://" + t.host.encode() + b"/x#y"):
        r = send(t, b"GET " + target + b" HTTP/1.1\r\nHost: " + t.host.encode() + b"\r\n\r\n")
        assert r.status == 400, (target, r.status, r.body)
        assert b"fragment" in r.body
    assert tk.http(t.port, "GET", "/fine", t.host).status == 200
    assert t.app.targets()[before:] == ["/fine"]


def test_options_absolute_form_without_a_path_reaches_the_app_as_asterisk(t):
    """RFC 9112 §3.2.4: the last proxy forwards 'OPTIONS http://host' as 'OPTIONS *'."""
    before = len(t.app.targets())
    r = send(t, b"OPTIONS http://" + t.host.encode() + b" HTTP/1.1\r\nHost: " + t.host.encode()
             + b"\r\n\r\n", "OPTIONS")
    assert r.status == 200, (r.status, r.body)
    r = send(t, b"OPTIONS http://" + t.host.encode() + b"/ HTTP/1.1\r\nHost: " + t.host.encode()
             + b"\r\n\r\n", "OPTIONS")
    assert r.status == 200, (r.status, r.body)
    assert t.app.targets()[before:] == ["*", "/"]


def test_response_head_with_300_fields_is_relayed(t):
    """A response head of 300 field lines (6 KB) passed ttf's limits (64 KiB, one line per
    16 bytes) but ttfd's parse of the binary RESPONSE used the default 256 lines: 502 blaming
    the agent in binary mode while JSON mode relayed it."""
    r = tk.http(t.port, "GET", "/cookies", t.host)
    assert r.status == 200, (r.status, r.body)
    assert r.get_all("Set-Cookie") == ["c%d=v%d; Path=/" % (i, i) for i in range(300)]
    assert r.body == b"ok"


def test_a_request_head_of_256_field_lines_reaches_the_app(t):
    """ttfd takes a request head of 256 field lines (its limit) and adds its forwarding fields
    (X-Forwarded-For, -Proto, -Host): the binary OPEN then held 259 lines and ttf parsed it with
    the default limit of 256, so the client got 502 "bad request head in OPEN" for a request
    ttfd had accepted (JSON mode relayed it). One line more is ttfd's 431, in both modes."""
    before = len(t.app.targets())
    fields = b"".join(b"X-F%d: v%d\r\n" % (i, i) for i in range(255))  # + Host: 256
    r = send(t, b"GET /many HTTP/1.1\r\nHost: " + t.host.encode() + b"\r\n" + fields + b"\r\n")
    assert r.status == 200, (r.status, r.body)
    req = t.app.wait_requests(before + 1, 10)[before]
    assert [v for n, v in req.headers if n.startswith("X-F") and n[3:].isdigit()] == ["v%d" % i for i in range(255)]
    r = send(t, b"GET /many HTTP/1.1\r\nHost: " + t.host.encode() + b"\r\nX-G: 1\r\n" + fields
             + b"\r\n")
    assert r.status == 431, (r.status, r.body)
    assert len(t.app.targets()) == before + 1


@pytest.mark.parametrize("line_kib", [17, 100])
def test_a_request_line_over_the_head_limit_is_414(t, line_kib):
    """A request-target longer than we parse is 414 URI Too Long (RFC 9112 §3, RFC 9110
    §15.5.15), as nginx answers; it was 431 (a field problem the client cannot fix by trimming
    its cookies). Fields over the limit stay 431. The app sees neither."""
    before = len(t.app.targets())
    target = b"/" + b"a" * (line_kib * 1024)
    c = tk.RawConn(t.port, timeout=10)
    try:
        c.send(b"GET " + target + b" HTTP/1.1\r\nHost: " + t.host.encode() + b"\r\n\r\n")
        r = c.read_response()
    except (ConnectionResetError, BrokenPipeError) as e:
        raise AssertionError("no answer before the reset: %r" % e)
    finally:
        c.close()
    assert r.status == 414, (r.status, r.body)
    assert r.get("Connection") == "close"
    r = send(t, tk.build_request("GET", "/fields", t.host, [("X-Big", "b" * 17 * 1024)]))
    assert r.status == 431, (r.status, r.body)
    assert tk.http(t.port, "GET", "/fine", t.host).status == 200
    assert t.app.targets()[before:] == ["/fine"]


def test_one_octet_chunks_do_not_cost_a_frame_each(t):
    """A chunked upload of 200 000 one-octet chunks (RFC 9112 §7.1 allows any size): ttfd sent
    one DATA frame per chunk in binary mode and ttf wrote each as a chunk of its own, so the app
    read 200 000 chunks and the upload took seconds (JSON mode: milliseconds). The decoded bytes
    of each read now travel together; the octets arrive intact either way."""
    data = bytes(65 + i % 26 for i in range(200000))
    body = b"".join(b"1\r\n%c\r\n" % c for c in data) + b"0\r\n\r\n"
    c = tk.RawConn(t.port, timeout=60)
    try:
        c.send(b"POST /chunks HTTP/1.1\r\nHost: " + t.host.encode()
               + b"\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        r = c.read_response("POST")
    finally:
        c.close()
    assert r.status == 200, (r.status, r.body)
    chunks, digest = r.body.split()
    assert digest.decode() == hashlib.sha256(data).hexdigest()
    assert int(chunks) <= 2000, "the app read %s chunks for 200000 octets" % chunks.decode()


def big_head(fields):
    """A local answer of the largest head ttf takes (--max-response-header-size 1048576): the
    status line, `fields` and Content-Length, then a body of 2 octets."""
    def answer(req, conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\n" + fields + b"Content-Length: 2\r\n\r\nok")
        return False
    return answer


@pytest.mark.parametrize("mode", ["binary", "json"])
def test_a_local_head_of_many_fields_costs_ttf_little(stack, mode):
    """A local answer of 65,535 field lines (ttf's limit with --max-response-header-size
    1048576) took ttf 4.5 s of CPU, its loop blocked for every other request: the hop-by-hop
    rule looked through every field for Connection once per field (quadratic), and removed
    fields one memmove at a time. Each kind now costs well under a second: plain fields, 32,767
    Connection lines naming 32,767 others, 65,534 hop-by-hop fields."""
    app = stack.closing(scriptapp.ScriptApp({
        "/plain": big_head(b"a: b\r\n" * 65534),
        "/named": big_head(b"".join(b"Connection: c%d\r\nc%d: v\r\n" % (i, i)
                                    for i in range(32767))),
        "/hop": big_head(b"Keep-Alive: 1\r\n" * 65534),
    }))
    t = make_tunnel(stack, ttf_args=("--protocol", mode, "--max-response-header-size", "1048576"),
                    local=app)
    for path in ("/plain", "/named", "/hop"):
        before = cpu_seconds(t.ttf.proc.pid)
        r = tk.http(t.port, "GET", path, t.host, timeout=60)
        spent = cpu_seconds(t.ttf.proc.pid) - before
        assert r.status == 200 and r.body == b"ok", (path, r.status, r.body[:200])
        names = [n.lower() for n, _ in r.head_lines]
        assert names.count("a") == (65534 if path == "/plain" else 0), path
        assert not [n for n in names if n == "keep-alive" or n[1:].isdigit()], path
        assert spent < 0.5 * tk.SLOW, "%s: ttf spent %.2f s of CPU on one head" % (path, spent)
