# SPDX-License-Identifier: MIT
"""docs/protocol.md against ttfd, with a minimal agent written here (JSON mode, as API Gateway
would carry it): handshake fields, http_request/http_response with bodies split into pieces
whose frames stay within 32 KB (messages within 128 KB), error codes mapped to statuses, ping/pong, unknown types
ignored, and the previous tunnel id given back (or not) on `ready`."""

import base64
import json
import os
import threading
import time

import jwt
import pytest

import tunnelkit as tk

FRAME_LIMIT = 32000  # API Gateway: frames of 32 KB, messages of 128 KB (read as decimal KB)
MESSAGE_LIMIT = 128000
PIECE_LIMIT = 93 * 1024  # raw body bytes per message (TTF_JSON_CHUNK)
SECRET = "protocol-secret-0123456789abcdef0123"


class RawAgent:
    """A JSON-mode agent on a raw socket."""

    def __init__(self, port, token=None, protocols="ttf.json.v1"):
        key = base64.b64encode(os.urandom(16)).decode()
        hdrs = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key),
                ("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Protocol", protocols)]
        if token:
            hdrs.append(("Authorization", "Bearer " + token))
        self.c = tk.RawConn(port, timeout=15)
        self.c.send(tk.build_request("GET", "/_tunnel", "127.0.0.1:%d" % port, hdrs))
        self.status, _, heads, raw = self.c.read_head()
        self.heads = heads
        if self.status == 101:
            assert [v for n, v in heads if n.lower() == "sec-websocket-accept"] == [tk.ws_accept(key)], raw

    def send(self, obj, frame=None):
        """One text message; with frame, in frames of at most that many bytes (as over API
        Gateway: a first text frame, then continuation frames)."""
        data = json.dumps(obj).encode()
        if not frame or len(data) <= frame:
            self.c.send(tk.ws_frame(1, data, mask=True))
            return
        for off in range(0, len(data), frame):
            op = 1 if off == 0 else 0
            self.c.send(tk.ws_frame(op, data[off:off + frame], mask=True, fin=off + frame >= len(data)))

    def recv(self):
        """Next JSON message; WebSocket pings are answered; frame and message sizes are checked
        (a message over one frame arrives as a text frame and continuation frames)."""
        parts = []
        while True:
            fin, op, masked, payload = tk.ws_read_frame(self.c.read_exact)
            assert not masked, "server frames must not be masked"
            if op == 9:
                self.c.send(tk.ws_frame(10, payload, mask=True))
                continue
            if op == 8:
                raise EOFError("server closed the WebSocket: %r" % payload)
            want = 0 if parts else 1
            assert op == want, "JSON mode: expected opcode %d, got %d" % (want, op)
            assert len(payload) <= FRAME_LIMIT, "frame of %d bytes > 32 KB" % len(payload)
            parts.append(payload)
            if fin:
                msg = b"".join(parts)
                assert len(msg) <= MESSAGE_LIMIT, "message of %d bytes > 128 KB" % len(msg)
                return json.loads(msg)

    def recv_type(self, *types):
        while True:
            m = self.recv()
            if m.get("type") in types:
                return m

    def ready(self, tunnel_id=None):
        self.send({"type": "ready", "tunnel_id": tunnel_id} if tunnel_id else {"type": "ready"})
        return self.recv_type("connection_established")

    def ready_takeover(self, tunnel_id, secret):
        self.send({"type": "ready", "tunnel_id": tunnel_id, "takeover": secret})
        return self.recv_type("connection_established")

    def close(self):
        try:
            self.c.send(tk.ws_frame(8, b"\x03\xe8", mask=True))
        except OSError:
            pass
        self.c.close()


def public(port, method, target, host, body=b"", headers=()):
    """Start a public request in a thread; returns a function that waits for its answer."""
    box = {}

    def run():
        try:
            box["r"] = tk.http(port, method, target, host, headers, body, timeout=30)
        except Exception as e:
            box["e"] = e

    th = threading.Thread(target=run, daemon=True)
    th.start()

    def result():
        th.join(30 * tk.SLOW)
        assert not th.is_alive(), "public request still pending"
        assert "e" not in box, "public request failed: %r" % box.get("e")
        return box["r"]
    return result


def recv_request(agent):
    """An http_request with its body pieces reassembled; checks seq order."""
    m = agent.recv_type("http_request")
    body = base64.b64decode(m.get("body") or "")
    assert len(body) <= PIECE_LIMIT, "first piece of %d bytes > 93 KiB" % len(body)
    seq = 0
    more = m.get("more", False)
    while more:
        p = agent.recv_type("http_request_body")
        assert p["request_id"] == m["request_id"]
        seq += 1
        assert p["seq"] == seq, "pieces out of order: %r" % p["seq"]
        piece = base64.b64decode(p["body"])
        assert len(piece) <= PIECE_LIMIT, "piece %d of %d bytes > 93 KiB" % (seq, len(piece))
        body += piece
        more = p.get("more", False)
    return m, body, seq


@pytest.fixture
def server(stack):
    return stack.ttfd()


def test_handshake_fields(server):
    a = RawAgent(server.port)
    try:
        assert a.status == 101
        assert [v for n, v in a.heads if n.lower() == "sec-websocket-protocol"] == ["ttf.json.v1"]
        est = a.ready()
        tid = est["tunnel_id"]
        assert len(tid) == 12 and all(ch in "abcdefghijklmnopqrstuvwxyz0123456789" for ch in tid)
        assert est["public_url"] == "http://%s.localhost:%d" % (tid, server.port)
        assert est["subdomain_url"] == est["public_url"]
        assert est["path_based_url"] == "http://localhost:%d/%s" % (server.port, tid)
        assert est.get("connection_id")
        a.send({"type": "ping"})
        assert a.recv_type("pong", "ping")["type"] == "pong"
        a.send({"type": "no_such_type", "x": 1})  # logged and dropped
        a.send({"type": "ping"})
        assert a.recv_type("pong")["type"] == "pong"
    finally:
        a.close()


def test_request_and_response_json(server):
    a = RawAgent(server.port)
    try:
        tid = a.ready()["tunnel_id"]
        host = tk.sub_host(server, tid)
        wait = public(server.port, "PROPFIND", "/dav/x?a=1&a=2&b=%20x&c", host, b"<propfind/>",
                      [("X-Rep", "1"), ("X-Rep", "2"), ("Connection", "X-Hop"), ("X-Hop", "h")])
        m, body, _ = recv_request(a)
        assert m["method"] == "PROPFIND"
        assert m["uri"] == "/dav/x?a=1&a=2&b=%20x&c"
        assert body == b"<propfind/>"
        hdrs = {k.lower(): v for k, v in m["headers"].items()}
        assert all(isinstance(v, list) for v in hdrs.values()), m["headers"]
        assert hdrs["x-rep"] == ["1", "2"]  # §2: every value of a repeated header, not merged
        assert "x-hop" not in hdrs and "connection" not in hdrs
        assert hdrs["x-forwarded-proto"] == ["http"]
        assert isinstance(m["timestamp"], int)
        a.send({"type": "http_response", "request_id": m["request_id"], "status_code": 207,
                "headers": {"Set-Cookie": ["a=1; Path=/", "b=2; HttpOnly"],
                            "Content-Type": ["application/xml"]},
                "body": base64.b64encode(b"<multistatus/>").decode(), "processing_time_ms": 3})
        r = wait()
        assert r.status == 207
        assert r.get_all("Set-Cookie") == ["a=1; Path=/", "b=2; HttpOnly"]
        assert r.body == b"<multistatus/>"
    finally:
        a.close()


def test_header_strings_only_where_agreed(server):
    """§2 "Header values": an agent whose ready says header_strings gets a name's single value as
    a plain string (several values stay an array, in order) and may answer so; one that does not
    (upstream, the test above) keeps arrays everywhere."""
    a = RawAgent(server.port)
    try:
        a.send({"type": "ready", "header_strings": True})
        est = a.recv_type("connection_established")
        assert est.get("header_strings") is True, est
        wait = public(server.port, "GET", "/s", tk.sub_host(server, est["tunnel_id"]), b"",
                      [("X-Rep", "1"), ("X-One", "v"), ("X-Rep", "2")])
        m, _, _ = recv_request(a)
        hdrs = {k.lower(): v for k, v in m["headers"].items()}
        assert hdrs["x-one"] == "v" and hdrs["x-forwarded-proto"] == "http", m["headers"]
        assert hdrs["x-rep"] == ["1", "2"], m["headers"]
        names = list(m["headers"])
        lines = [names[i].lower() for i in m["header_order"]]  # the lines' order kept across names
        assert [n for n in lines if n.startswith("x-")][:3] == ["x-rep", "x-one", "x-rep"], m
        a.send({"type": "http_response", "request_id": m["request_id"], "status_code": 200,
                "headers": {"Set-Cookie": ["a=1", "b=2"], "X-Answer": "yes"},
                "body": base64.b64encode(b"ok").decode()})
        r = wait()
        assert r.status == 200 and r.body == b"ok"
        assert r.get_all("Set-Cookie") == ["a=1", "b=2"] and r.get_all("X-Answer") == ["yes"]
    finally:
        a.close()
    b = RawAgent(server.port)
    try:
        b.send({"type": "ready", "header_strings": False})
        est = b.recv_type("connection_established")
        assert "header_strings" not in est, est
    finally:
        b.close()


def test_large_bodies_travel_in_pieces(server):
    a = RawAgent(server.port)
    try:
        tid = a.ready()["tunnel_id"]
        up = os.urandom(200_000)
        wait = public(server.port, "POST", "/up", tk.sub_host(server, tid), up)
        m, body, pieces = recv_request(a)
        assert body == up, "request body reassembled wrong (%d vs %d bytes)" % (len(body), len(up))
        # at most 93 KiB per message (checked in recv_request): 200 000 bytes take 3 messages
        assert pieces >= -(-len(up) // PIECE_LIMIT) - 1, pieces
        # the pieces ttf sends (93 KiB: one 128 KB message in 32 KB frames), and upstream's 16 KiB
        for step, frame in ((93 * 1024, FRAME_LIMIT), (16 * 1024, None)):
            if step == 16 * 1024:
                wait = public(server.port, "POST", "/up", tk.sub_host(server, tid), up)
                m, body, pieces = recv_request(a)
            down = os.urandom(250_000)
            first, rest = down[:step], down[step:]
            a.send({"type": "http_response", "request_id": m["request_id"], "status_code": 200,
                    "headers": {"Content-Type": ["application/octet-stream"]},
                    "body": base64.b64encode(first).decode(), "more": True}, frame)
            seq = 0
            for i in range(0, len(rest), step):
                seq += 1
                a.send({"type": "http_response_body", "request_id": m["request_id"], "seq": seq,
                        "body": base64.b64encode(rest[i:i + step]).decode(),
                        "more": i + step < len(rest)}, frame)
            r = wait()
            assert r.status == 200 and r.body == down, (step, r.status)
    finally:
        a.close()


@pytest.mark.parametrize("code,status", [("invalid_request", 400), ("timeout", 504),
                                         ("local_service_unavailable", 502),
                                         ("internal_error", 502)])
def test_error_codes(server, code, status):
    a = RawAgent(server.port)
    try:
        tid = a.ready()["tunnel_id"]
        wait = public(server.port, "GET", "/err", tk.sub_host(server, tid))
        m, _, _ = recv_request(a)
        a.send({"type": "error", "request_id": m["request_id"], "code": code, "message": "x"})
        assert wait().status == status
    finally:
        a.close()


BAD_READIES = [('{"type":"ready","tunnel_id":5}', "bad tunnel_id"),
               ('{"type":"ready","subdomain":["x"]}', "bad subdomain"),
               ('{"type":"ready","subdomain":"a\\u0000"}', "invalid JSON"),
               ('{"type":"ready","request_window":-1}', "bad request_window")]


@pytest.mark.parametrize("text,why", BAD_READIES)
def test_a_bad_ready_is_refused_at_once(server, text, why):
    """A ready that does not decode gets tunnel_refused "ready_invalid" naming the field, and the
    link closes (before: dropped with a log line, the agent waiting 30 s for "ready expected");
    once the tunnels are given, a bad ready is dropped and they go on."""
    a = RawAgent(server.port)
    try:
        a.c.send(tk.ws_frame(1, text.encode(), mask=True))
        m = a.recv_type("tunnel_refused")
        assert m["code"] == "ready_invalid" and m["message"] == "bad ready: " + why, m
        with pytest.raises(EOFError):
            a.recv()
    finally:
        a.close()
    a = RawAgent(server.port)
    try:
        tid = a.ready()["tunnel_id"]
        a.c.send(tk.ws_frame(1, text.encode(), mask=True))
        a.send({"type": "ping"})
        assert a.recv()["type"] == "pong"
        wait = public(server.port, "GET", "/still", tk.sub_host(server, tid))
        m, _, _ = recv_request(a)
        a.send({"type": "http_response", "request_id": m["request_id"], "status_code": 204,
                "headers": {}})
        assert wait().status == 204
    finally:
        a.close()


def wait_released(port, tid):
    """Wait until ttfd has seen the agent holding tid go (it notices a closed WebSocket
    asynchronously): from then on a public request to tid is answered 404."""
    host = "%s.localhost:%d" % (tid, port)
    tk.wait_for(lambda: tk.http(port, "GET", "/", host).status == 404, 10,
                "ttfd to release tunnel %s after its agent closed" % tid)


def ask(port, want, token=None):
    """A new agent asking for `want`; returns (agent, granted id). The agent stays open."""
    a = RawAgent(port, token)
    return a, a.ready(want)["tunnel_id"]


def test_previous_id_given_back(server):
    a = RawAgent(server.port)
    tid = a.ready()["tunnel_id"]
    # While a live agent holds it, another one gets a fresh id.
    b = RawAgent(server.port)
    try:
        assert b.ready(tid)["tunnel_id"] != tid
    finally:
        b.close()
    a.close()
    wait_released(server.port, tid)
    c, got = ask(server.port, tid)
    try:
        assert got == tid, "the previous id was not given back after the agent left"
    finally:
        c.close()


def test_previous_id_with_auth_same_subject_only(stack):
    d = stack.ttfd("--require-auth", "--jwt-secret", SECRET)

    def tok(sub):
        return jwt.encode({"sub": sub, "exp": int(time.time()) + 600}, SECRET, algorithm="HS256")

    assert RawAgent(d.port).status == 401
    a = RawAgent(d.port, tok("alice"))
    assert a.status == 101
    tid = a.ready()["tunnel_id"]
    a.close()
    # Once ttfd saw alice's agent go, the id is free: bob never gets it, alice does.
    wait_released(d.port, tid)
    b, got = ask(d.port, tid, tok("bob"))
    b.close()
    assert got != tid, "bob was given alice's tunnel id"
    c, got = ask(d.port, tid, tok("alice"))
    try:
        assert got == tid, "alice did not get her previous id back"
    finally:
        c.close()


def test_takeover_moves_a_tunnel_to_the_agents_new_connection(server):
    """ttf moves to a new connection before API Gateway's 2-hour limit; ttfd accepts the same
    handshake: ready with the tunnel id and the secret of connection_established. New requests go
    to the new connection, one in flight on the old one is still answered there; a wrong secret
    gets a fresh id."""
    a = RawAgent(server.port)
    b = c = None
    try:
        est = a.ready()
        tid, secret = est["tunnel_id"], est["takeover"]
        assert len(secret) == 64
        wait_old = public(server.port, "GET", "/old", tk.sub_host(server, tid))
        m_old, _, _ = recv_request(a)
        c = RawAgent(server.port)
        assert c.ready_takeover(tid, "0" * 64)["tunnel_id"] != tid  # wrong secret
        b = RawAgent(server.port)
        est2 = b.ready_takeover(tid, secret)
        assert est2["tunnel_id"] == tid and est2["takeover"] != secret
        wait_new = public(server.port, "GET", "/new", tk.sub_host(server, tid))
        m_new, _, _ = recv_request(b)
        assert m_new["uri"] == "/new"
        for ag, m, body in ((b, m_new, b"new"), (a, m_old, b"old")):
            ag.send({"type": "http_response", "request_id": m["request_id"], "status_code": 200,
                     "headers": {}, "body": base64.b64encode(body).decode(), "processing_time_ms": 1})
        assert wait_new().body == b"new"
        assert wait_old().body == b"old"
        gone = len(server.proc.err_times(r"agent \S+ disconnected"))
        a.close()
        a = None
        # once ttfd has seen the old connection end (its log line), the tunnel must still work
        tk.wait_for(lambda: len(server.proc.err_times(r"agent \S+ disconnected")) > gone, 10,
                    "ttfd to see the old connection close")
        wait = public(server.port, "GET", "/after", tk.sub_host(server, tid))
        m, _, _ = recv_request(b)  # the old connection's end did not take the tunnel down
        b.send({"type": "http_response", "request_id": m["request_id"], "status_code": 204,
                "headers": {}, "body": "", "processing_time_ms": 1})
        assert wait().status == 204
    finally:
        for ag in (a, b, c):
            if ag:
                ag.close()
