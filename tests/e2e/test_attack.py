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

import pytest

import rawagent as ra
import scriptapp
import tunnelkit as tk
from conftest import make_tunnel


def echo(req, conn):
    body = ("%s %s body=%s" % (req.method, req.target, req.body.decode("latin-1"))).encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                 % (len(body), body))
    return True


@pytest.fixture(scope="module", params=["bin", "json"])
def t(request, mstack):
    app = scriptapp.ScriptApp({"/": echo, "*": echo})
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

