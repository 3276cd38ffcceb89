# SPDX-License-Identifier: MIT
"""A hostile agent cannot answer another tunnel's users (issue 12 item 1), in both wire modes.

The agents here are written in Python (rawagent.py) and break the protocol on purpose: a body
longer than its Content-Length carrying a forged second response, a response after the final one,
body bytes on a bodiless response, frames for stream ids ttfd never gave. A public client that
keeps its connection alive (as a front proxy or CDN does, across users) sends its next request, to
an honest tunnel, on the same connection: it must get that tunnel's answer, or a closed connection,
and never the forged bytes. The overrun is logged with the hostile tunnel's name and its stream is
reset (binary: RESET protocol_error; JSON: cancel "protocol_error: ..."); so is a stream one of
whose body gets a malformed DATA frame (binary), rather than going on with a hole.
"""

import base64
import socket

import pytest

import rawagent as ra
import tunnelkit as tk

FORGED = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nX-Forged: yes\r\n\r\nforged"


@pytest.fixture
def server(stack):
    return stack.ttfd("--state", ":memory:")


def host(server, agent):
    return tk.sub_host(server, agent.tunnel_id)


def honest_bin(agent, conn, hostname):
    """The honest tunnel answers the request conn just sent."""
    sid, head, _, _ = agent.recv_request()
    assert b"Host: " + hostname.encode() in head
    agent.respond(sid, b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n", b"from-b")
    r = conn.read_response()
    assert r.status == 200 and r.body == b"from-b" and r.get("X-Forged") is None


def expect_closed(conn):
    """ttfd closed the public connection: nothing more (no forged bytes) arrives."""
    assert conn.buf == b"", "bytes after the legitimate response: %r" % conn.buf
    conn.sock.settimeout(10 * tk.SLOW)
    try:
        data = conn.sock.recv(65536)
    except ConnectionResetError:
        data = b""
    assert data == b"", "bytes after the legitimate response: %r" % data


def test_bin_overrun_never_reaches_the_next_user(server):
    a, b = ra.BinAgent(server.port), ra.BinAgent(server.port)
    try:
        a.ready()
        b.ready()
        c = ra.keepalive_get(server.port, host(server, a), "/a")
        sid, _, _, _ = a.recv_request()
        a.respond(sid, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", b"hello" + FORGED)
        r = c.read_response()
        assert r.status == 200 and r.body == b"hello"
        # the next user's request on the same keep-alive connection
        try:
            c.send(tk.build_request("GET", "/b", host(server, b)))
        except (BrokenPipeError, ConnectionResetError):
            pass
        expect_closed(c)
        assert a.wait_reset(sid) == ra.RST_PROTOCOL_ERROR
        server.proc.wait_line(r"tunnel %s .*protocol_error" % a.tunnel_id, 10, stream="err")
        # a new connection reaches the honest tunnel
        c2 = ra.keepalive_get(server.port, host(server, b), "/b")
        honest_bin(b, c2, host(server, b))
        # the hostile agent's other streams still work: it was reset, not dropped
        c3 = ra.keepalive_get(server.port, host(server, a), "/again")
        sid, _, _, _ = a.recv_request()
        a.respond(sid, b"HTTP/1.1 204 No Content\r\n\r\n")
        assert c3.read_response().status == 204
    finally:
        a.close()
        b.close()


def test_bin_response_after_final_is_dropped(server):
    a, b = ra.BinAgent(server.port), ra.BinAgent(server.port)
    try:
        a.ready()
        b.ready()
        c = ra.keepalive_get(server.port, host(server, a), "/a")
        sid, _, _, _ = a.recv_request()
        a.respond(sid, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", b"ok")
        assert c.read_response().body == b"ok"
        # the exchange is over: a second response on its stream goes nowhere
        a.send_frame(ra.RESPONSE, 0, sid, FORGED[:FORGED.index(b"\r\n\r\n") + 4])
        a.send_frame(ra.DATA, ra.FIN, sid, b"forged")
        assert a.wait_reset(sid) == ra.RST_CANCEL
        c.send(tk.build_request("GET", "/b", host(server, b)))
        honest_bin(b, c, host(server, b))
        # a second final response while the first is still going: reset, connection closed
        c4 = ra.keepalive_get(server.port, host(server, a), "/a2")
        sid, _, _, _ = a.recv_request()
        a.send_frame(ra.RESPONSE, 0, sid, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
        a.send_frame(ra.DATA, 0, sid, b"ok")
        a.send_frame(ra.RESPONSE, 0, sid, b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n")
        assert c4.read_response().body == b"ok"
        assert a.wait_reset(sid) == ra.RST_PROTOCOL_ERROR
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("method,status", [("HEAD", 200), ("GET", 204), ("GET", 304)])
def test_bin_body_on_bodiless_response(server, method, status):
    a, b = ra.BinAgent(server.port), ra.BinAgent(server.port)
    try:
        a.ready()
        b.ready()
        c = tk.RawConn(server.port)
        c.send(tk.build_request(method, "/h", host(server, a)))
        sid, _, _, _ = a.recv_request()
        a.respond(sid, b"HTTP/1.1 %d X\r\nContent-Length: 5\r\n\r\n" % status, FORGED)
        r = c.read_response(method)
        assert r.status == status
        try:
            c.send(tk.build_request("GET", "/b", host(server, b)))
        except (BrokenPipeError, ConnectionResetError):
            pass
        expect_closed(c)
        assert a.wait_reset(sid) == ra.RST_PROTOCOL_ERROR
    finally:
        a.close()
        b.close()


def test_bin_wrong_stream_ids(server):
    a = ra.BinAgent(server.port)
    try:
        a.ready()
        c = ra.keepalive_get(server.port, host(server, a), "/w")
        sid, _, _, _ = a.recv_request()
        for wrong in (sid + 1, sid + 1000, 0xFFFFFFFF):
            a.send_frame(ra.RESPONSE, 0, wrong, FORGED[:FORGED.index(b"\r\n\r\n") + 4])
            a.send_frame(ra.DATA, ra.FIN, wrong, b"forged")
            assert a.wait_reset(wrong) == ra.RST_CANCEL
        a.send_ws(2, b"\x03\x00\x00\x00\x00\x00" + FORGED)  # stream id 0: malformed, dropped
        a.respond(sid, b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n", b"mine")
        r = c.read_response()
        assert r.body == b"mine" and r.get("X-Forged") is None
        c.send(tk.build_request("GET", "/w2", host(server, a)))
        sid2, _, _, _ = a.recv_request()
        assert sid2 != sid
        a.respond(sid2, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", b"w2")
        assert c.read_response().body == b"w2"
    finally:
        a.close()


@pytest.mark.parametrize("framing", ["chunked", "length"])
def test_bin_malformed_frame_ends_its_stream_not_a_hole_in_the_body(server, framing):
    """A DATA frame over 64 KiB (or with an unknown flag) was dropped by the decoder and the
    stream went on: the client got 'aaa' + 'bbb' as a whole body with the middle missing. A
    malformed DATA inside a response body now resets its stream (protocol_error): the client sees
    a cut response (no last chunk / short of its Content-Length), never one that looks whole.
    (Before the head such a frame is still dropped: tests/faults/test_fault_agents.py.)"""
    a = ra.BinAgent(server.port)
    try:
        a.ready()
        for bad in (ra.frame(ra.DATA, 0, 0, b"z" * (64 * 1024 + 1)), ra.frame(ra.DATA, 0x80, 0, b"zzz")):
            c = ra.keepalive_get(server.port, host(server, a), "/hole")
            sid, _, _, _ = a.recv_request()
            head = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" if framing == "chunked"
                    else b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n")
            a.send_frame(ra.RESPONSE, 0, sid, head)
            a.send_frame(ra.DATA, 0, sid, b"aaa")
            a.send_ws(2, bad[:2] + sid.to_bytes(4, "big") + bad[6:])
            a.send_frame(ra.DATA, ra.FIN, sid, b"bbb")
            assert a.wait_reset(sid) == ra.RST_PROTOCOL_ERROR
            status, _, heads, _ = c.read_head()
            assert status == 200
            c.sock.settimeout(10 * tk.SLOW)
            try:
                body = c.read_to_eof()
            except ConnectionResetError:
                body = c.buf  # what arrived before the reset
            assert b"bbb" not in body, body
            assert body in (b"3\r\naaa\r\n", b"aaa"), body
            c.close()
        # the tunnel goes on
        c = ra.keepalive_get(server.port, host(server, a), "/after")
        sid, _, _, _ = a.recv_request()
        a.respond(sid, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", b"ok")
        assert c.read_response().body == b"ok"
        c.close()
    finally:
        a.close()


def json_honest(agent, conn):
    m, _, _ = agent.recv_request()
    agent.respond(m["request_id"], 200, {"content-length": ["6"]}, b"from-b")
    r = conn.read_response()
    assert r.status == 200 and r.body == b"from-b" and r.get("X-Forged") is None


def test_json_overrun_never_reaches_the_next_user(server):
    a, b = ra.JsonAgent(server.port), ra.JsonAgent(server.port)
    try:
        a.ready()
        b.ready()
        c = ra.keepalive_get(server.port, host(server, a), "/a")
        m, _, _ = a.recv_request()
        rid = m["request_id"]
        a.respond(rid, 200, {"content-length": ["5"]}, b"hello", more=True)
        a.piece(rid, 1, FORGED, False)
        r = c.read_response()
        assert r.status == 200 and r.body == b"hello"
        try:
            c.send(tk.build_request("GET", "/b", host(server, b)))
        except (BrokenPipeError, ConnectionResetError):
            pass
        expect_closed(c)
        cancel = a.recv_type("cancel")
        assert cancel["request_id"] == rid and "protocol_error" in cancel.get("reason", "")
        server.proc.wait_line(r"tunnel %s .*protocol_error" % a.tunnel_id, 10, stream="err")
        c2 = ra.keepalive_get(server.port, host(server, b), "/b")
        json_honest(b, c2)
    finally:
        a.close()
        b.close()


def test_json_response_after_final_is_dropped(server):
    a, b = ra.JsonAgent(server.port), ra.JsonAgent(server.port)
    try:
        a.ready()
        b.ready()
        c = ra.keepalive_get(server.port, host(server, a), "/a")
        m, _, _ = a.recv_request()
        rid = m["request_id"]
        a.respond(rid, 200, {"content-length": ["2"]}, b"ok")
        assert c.read_response().body == b"ok"
        a.respond(rid, 200, {"content-length": ["6"], "x-forged": ["yes"]}, b"forged")
        a.piece(rid, 1, b"forged", False)
        c.send(tk.build_request("GET", "/b", host(server, b)))
        json_honest(b, c)
        # a whole body longer than its Content-Length in one message
        c3 = ra.keepalive_get(server.port, host(server, a), "/a3")
        m, _, _ = a.recv_request()
        a.respond(m["request_id"], 200, {"content-length": ["2"]}, b"ok" + FORGED)
        assert c3.read_response().body == b"ok"
        expect_closed(c3)
    finally:
        a.close()
        b.close()


# RFC 9110 §6.5.1: fields a trailer section may not carry (framing, routing, cookies); the client
# must never read them as trailers, whichever mode the agent speaks
FORBIDDEN_TRAILERS = [("Content-Length", "99"), ("Transfer-Encoding", "chunked"), ("Host", "evil"),
                      ("Set-Cookie", "a=b"), ("X-Sum", "ok")]


@pytest.mark.parametrize("mode", ["bin", "json"])
def test_forbidden_trailer_fields_never_reach_the_client(server, mode):
    agent = ra.BinAgent(server.port) if mode == "bin" else ra.JsonAgent(server.port)
    try:
        if mode == "bin":
            agent.ready()
        else:
            assert agent.ready(relay_trailers=True).get("relay_trailers") is True
        c = ra.keepalive_get(server.port, host(server, agent), "/t")
        if mode == "bin":
            sid, _, _, _ = agent.recv_request()
            agent.respond(sid, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"hello",
                          fin=False)
            agent.send_frame(ra.TRAILERS, ra.FIN, sid,
                             b"".join(b"%s: %s\r\n" % (n.encode(), v.encode())
                                      for n, v in FORBIDDEN_TRAILERS) + b"\r\n")
        else:
            rid = agent.recv_request()[0]["request_id"]
            agent.respond(rid, 200, {}, b"hello", more=True)
            agent.send_json({"type": "http_response_body", "request_id": rid, "seq": 1,
                             "body": "", "more": False,
                             "trailers": dict((n, [v]) for n, v in FORBIDDEN_TRAILERS)})
        c.read_head()
        assert c.read_until(b"\r\n\r\n") == b"5\r\nhello\r\n0\r\nX-Sum: ok\r\n\r\n"
    finally:
        agent.close()


def unfinished_message(agent, mode, size):
    """agent sends the first size octets of a message it never finishes (64 KiB frames); False
    when ttfd closed the link on the way."""
    first = b"{" if mode == "json" else ra.frame(ra.WINDOW, 0, 1)
    piece = tk.ws_frame(0, b" " * 65536, mask=True, fin=False)
    try:
        agent.c.send(tk.ws_frame(1 if mode == "json" else 2, first, mask=True, fin=False))
        for _ in range(size // 65536):
            agent.c.send(piece)
    except OSError:
        return False
    return True


@pytest.mark.parametrize("mode", ["bin", "json"])
def test_unfinished_messages_of_many_agents_hold_bounded_memory(server, mode):
    """An agent may send one message of up to 12 MiB, and 32 links from one address each holding
    11 MiB of a message they never finish made ttfd hold 380 MB. All links together hold at most
    TTFD_AGENT_MSG_BUDGET (64 MiB) beyond a share each (256 KiB): the link past it is closed
    (1009, logged), the others and other tunnels go on, and the memory is free again once the
    hoarders go (before: every link kept its 11 MiB, none was closed)."""
    honest = ra.MODES[mode](server.port)
    hoarders = []
    try:
        honest.ready()
        for _ in range(7):  # 7 x 11 MiB: past 64 MiB
            a = ra.MODES[mode](server.port)
            a.ready()
            hoarders.append(a)
            unfinished_message(a, mode, 11 << 20)
        server.proc.wait_line(r"agent \S+ disconnected: tunnel \S+ " + OVER_MSGS, 10,
                              stream="err")
        serve_one(server, honest, mode, "/still")
        for a in hoarders:
            a.close()
        hoarders = []
        late = ra.MODES[mode](server.port)
        hoarders.append(late)
        late.ready()
        assert unfinished_message(late, mode, 11 << 20)
        late.send_ws(0, b"}" if mode == "json" else b"")  # a whole, meaningless message
        serve_one(server, late, mode, "/late")
    finally:
        honest.close()
        for a in hoarders:
            a.close()


OVER_MSGS = (r"\(1009 messages in progress over the server's memory for them \(or its "
             r"address's part\): try again later\)")


def agent_from(server, mode, addr):
    """An agent of mode whose link comes from addr (a loopback address of its own)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(20 * tk.SLOW)
    s.bind((addr, 0))
    s.connect(("127.0.0.1", server.port))
    return ra.MODES[mode](server.port, sock=s)


@pytest.mark.parametrize("mode", ["bin", "json"])
def test_one_address_takes_its_part_of_the_message_budget(server, mode):
    """The links of one address hold at most a quarter of TTFD_AGENT_MSG_BUDGET (16 MiB) beyond
    their shares: 7 links of 127.0.0.1 each sending 11 MiB of a message they never finish keep
    one, and an agent from 127.0.0.2 then sends a whole message of 11 MiB on its link, which goes
    on serving (before: the hoarders held 64 MiB, and the honest agent's link was closed 1009)."""
    hoarders, honest = [], None
    try:
        for _ in range(7):
            a = ra.MODES[mode](server.port)
            a.ready()
            hoarders.append(a)
            unfinished_message(a, mode, 11 << 20)
        at = 0
        for _ in range(6):  # every hoarder but one closed (the first fits its address's part)
            _, at = server.proc.wait_line(r"agent 127\.0\.0\.1 disconnected: tunnel \S+ " +
                                          OVER_MSGS, 10, stream="err", start=at)
            at += 1
        honest = agent_from(server, mode, "127.0.0.2")
        honest.ready()
        assert unfinished_message(honest, mode, 11 << 20)
        honest.send_ws(0, b"}" if mode == "json" else b"")  # the end of a whole message
        serve_one(server, honest, mode, "/honest")
        assert "agent 127.0.0.2 disconnected" not in server.proc.stderr()
    finally:
        if honest:
            honest.close()
        for a in hoarders:
            a.close()


def serve_one(server, agent, mode, path):
    """A public request to agent's tunnel is answered by it."""
    c = ra.keepalive_get(server.port, host(server, agent), path)
    if mode == "bin":
        sid, _, _, _ = agent.recv_request()
        agent.respond(sid, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", b"ok")
    else:
        m, _, _ = agent.recv_request()
        agent.respond(m["request_id"], 200, {}, b"ok")
    r = c.read_response()
    assert r.status == 200 and r.body == b"ok"
    c.close()
