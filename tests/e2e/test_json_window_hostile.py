# SPDX-License-Identifier: MIT
"""JSON mode's request windows (docs/protocol.md §2 "Flow control") against peers that lie.

A fake agent (rawagent.JsonAgent) sends ttfd `window` messages that break the rules: increments
of 0, negative, over 2^32-1, not integers, credit that takes a request past 2^32-1 bytes (each
fails that exchange with 502, never ttfd nor the agent's other requests), and credits for
requests that are unknown, finished or not yet asked for, before `ready`, or around a repeated
`ready` (dropped: the exchange goes on). A fake ttfd (fakettfd.FakeTtfd) tells a real `ttf` a
request window of 4 GiB and pushes 110 MB at a local service that does not read (ttf holds no
more than its own limit, pausing the link as without windows), sends body beyond the window (that
exchange is cancelled, the link goes on) or announces a window of one byte (every byte still
arrives; ttf grows the window with its credit, never past its own 1 MiB: agent/hold.h)."""

import base64
import hashlib
import os
import threading
import time

import pytest

import rawagent as ra
import tunnelkit as tk
from fakettfd import FakeTtfd
from scriptapp import ScriptApp

W = 1 << 20  # TTF_JSON_REQUEST_WINDOW
PIECE = 93 * 1024  # TTF_JSON_CHUNK


# ---------------------------------------------------------------- a fake agent against ttfd


def upload(port, host, n):
    """A client POSTing n octets from a thread; returns its RawConn."""
    c = tk.RawConn(port, timeout=30)
    c.send(b"POST /up HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n" % (host.encode(), n))

    def run():
        try:
            for piece in tk.pattern_chunks(n, 65536):
                c.send(piece)
        except OSError:
            pass  # ttfd answered and closed
    threading.Thread(target=run, daemon=True).start()
    return c


def body_until(agent, rid, want, quiet_s):
    """Request body octets of rid that ttfd sends until want or quiet_s without any."""
    got = b""
    while len(got) < want:
        try:
            m = agent.recv_msg(timeout=quiet_s)
        except (TimeoutError, OSError):
            break
        if m.get("request_id") == rid and m["type"] in ("http_request", "http_request_body"):
            got += base64.b64decode(m.get("body") or "")
    return got


def window(rid, increment_json):
    return ('{"type":"window","request_id":"%s","increment":%s}' % (rid, increment_json)).encode()


def honest_get(server, agent):
    """The agent answers one GET through ttfd."""
    c = tk.RawConn(server.port, timeout=10)
    try:
        c.send(tk.build_request("GET", "/ok", tk.sub_host(server, agent.tunnel_id)))
        m = agent.recv_type("http_request")
        agent.respond(m["request_id"], 200, {"content-length": ["2"]}, b"ok")
        r = c.read_response()
        assert r.status == 200 and r.body == b"ok"
    finally:
        c.close()


BAD_INCREMENTS = ["0", "-1", "4294967296", "9223372036854775808", "18446744073709551616", "1.5",
                  '"4096"', "null", "true", "1e400", "[1]"]


def test_bad_window_increments_fail_their_exchange_only(stack):
    server = stack.ttfd("--state", ":memory:")
    other = ra.JsonAgent(server.port)
    other.ready(request_windows=True, stream_windows=True)
    agent = ra.JsonAgent(server.port)
    est = agent.ready(request_windows=True, stream_windows=True)
    assert est.get("request_window") == W
    host = tk.sub_host(server, agent.tunnel_id)
    for inc in BAD_INCREMENTS:
        c = upload(server.port, host, 3 * W)
        m = agent.recv_type("http_request")
        rid = m["request_id"]
        sent = base64.b64decode(m.get("body") or "") + body_until(agent, rid, 3 * W, 0.5)
        assert len(sent) == W, "ttfd sent %d octets of a 1 MiB window" % len(sent)
        agent.send_ws(1, window(rid, inc))
        r = c.read_response()
        c.close()
        assert r.status == 502, (inc, r.status)
        cancel = agent.recv_type("cancel")
        assert cancel["request_id"] == rid and "protocol_error" in cancel["reason"], cancel
        honest_get(server, other)
    assert server.proc.alive()
    agent.close()
    other.close()


def test_credit_past_2_32_fails_its_exchange(stack):
    server = stack.ttfd("--state", ":memory:")
    agent = ra.JsonAgent(server.port)
    agent.ready(request_windows=True)
    c = upload(server.port, tk.sub_host(server, agent.tunnel_id), 6 * W)
    m = agent.recv_type("http_request")
    rid = m["request_id"]
    sent = base64.b64decode(m.get("body") or "") + body_until(agent, rid, 6 * W, 1)
    assert len(sent) == W
    agent.send_ws(1, window(rid, 2**32 - 1 - W))  # the most outstanding credit there may be
    sent += body_until(agent, rid, 6 * W, 5)
    assert sent == b"".join(tk.pattern_chunks(6 * W))
    agent.send_ws(1, window(rid, 2**32 - 1))  # past 2^32-1 outstanding
    r = c.read_response()
    assert r.status == 502
    assert "protocol_error" in agent.recv_type("cancel")["reason"]


def test_stray_windows_and_a_repeated_ready_change_nothing(stack):
    server = stack.ttfd("--state", ":memory:")
    agent = ra.JsonAgent(server.port)
    agent.send_json({"type": "window", "request_id": "before-ready", "increment": 5})
    est = agent.ready(request_windows=True, stream_windows=True)
    host = tk.sub_host(server, agent.tunnel_id)
    n = 3 * W + 1
    c = upload(server.port, host, n)
    m = agent.recv_type("http_request")
    rid = m["request_id"]
    sent = base64.b64decode(m.get("body") or "") + body_until(agent, rid, n, 1)
    assert len(sent) == W
    for stray in ("unknown", rid.upper(), rid + "x", ""):
        agent.send_json({"type": "window", "request_id": stray, "increment": 4096})
    agent.send_json({"type": "ready"})  # repeated, without request_windows: the same answer
    again = agent.recv_type("connection_established")
    assert again.get("request_window") == est["request_window"] == W
    assert body_until(agent, rid, 1, 1) == b"", "a stray window let body through"
    while len(sent) < n:  # an honest agent: credits what it got
        agent.send_json({"type": "window", "request_id": rid, "increment": W})
        sent += body_until(agent, rid, min(n, len(sent) + W) - len(sent), 5)
    assert sent == b"".join(tk.pattern_chunks(n))
    agent.respond(rid, 200, {"content-length": ["4"]}, b"done")
    r = c.read_response()
    assert r.status == 200 and r.body == b"done"
    for _ in range(3):  # credits for the finished request: dropped
        agent.send_json({"type": "window", "request_id": rid, "increment": 2**32 - 1})
    honest_get(server, agent)
    assert server.proc.alive()


# ---------------------------------------------------------------- a fake ttfd against ttf


class Holder:
    """Answers a head, then never reads its request body nor ends until released."""

    streams_body = True

    def __init__(self):
        self.release = threading.Event()
        self.entered = threading.Event()

    def __call__(self, req, conn):
        self.entered.set()
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nstart\r\n")
        self.release.wait(60)
        return False


def echo(req, conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(req.body), req.body))
    return True


@pytest.fixture
def fake(stack):
    holder = Holder()
    app = ScriptApp({"/hold": holder, "/echo": echo})
    stack.items.append(("server", app, None))
    f = FakeTtfd()
    ttf = stack.ttf(f.endpoint, app.port, "--protocol", "json", wait=False)
    yield f, ttf, holder
    holder.release.set()
    f.close()


def test_a_4_gib_request_window_is_not_what_ttf_holds(fake):
    f, ttf, holder = fake
    ready = f.accept({"request_window": 2**32 - 1, "stream_window": W})
    assert ready.get("request_windows") is True
    f.request("h1", "POST", "/hold", {"host": ["fake"]}, more=True)
    head = f.recv_type("http_response")
    assert head["request_id"] == "h1" and head["status_code"] == 200
    base = ttf.proc.vmhwm_kb()
    piece = os.urandom(PIECE)
    total = 1200  # 110 MB: what a server that believes its 4 GiB window may send
    state = {"sent": 0, "at": time.monotonic()}

    def push():
        try:
            for seq in range(1, total + 1):
                f.piece("h1", seq, piece, True)
                state["sent"], state["at"] = seq, time.monotonic()
        except OSError:
            pass  # closed at the end of the test
    threading.Thread(target=push, daemon=True).start()
    tk.wait_for(lambda: state["sent"] == total or time.monotonic() - state["at"] > 2, 60,
                "the fake ttfd sending everything or being held back")
    grew = ttf.proc.vmhwm_kb() - base
    print("ttf took %.1f MB of %.1f MB; its peak RSS grew by %d kB"
          % (state["sent"] * PIECE / tk.MB, total * PIECE / tk.MB, grew))
    # 4 MiB held by ttf, the rest in the sockets' kernel buffers (a few MB each way)
    assert state["sent"] * PIECE < 40 * tk.MB, "ttf read on for a local service that reads nothing"
    if not (tk.SANITIZED or tk.VALGRIND):  # their allocators keep freed memory
        assert grew < 24 * 1024, "ttf grew by %d kB for one stalled exchange" % grew


def test_request_body_beyond_the_window_cancels_that_exchange_only(fake):
    f, ttf, holder = fake
    f.accept({"request_window": 1000})
    f.request("o1", "POST", "/echo", {"host": ["fake"], "content-length": [str(4 * W)]},
              b"a" * 1000, more=True)
    credit = f.recv_type("window")
    # the window grows with ttf's credit to its own (1 MiB for one upload), what it holds counted
    assert credit["request_id"] == "o1" and 0 < credit["increment"] <= W, credit
    f.piece("o1", 1, b"b" * (credit["increment"] + 1), True)  # one octet beyond the credit
    cancel = f.recv_type("cancel", "http_response", "error")
    assert cancel["type"] == "cancel" and cancel["request_id"] == "o1"
    assert cancel["reason"] == "protocol_error: request body beyond the request window"
    f.request("o2", "POST", "/echo", {"host": ["fake"]}, b"fine")
    r = f.recv_type("http_response")
    assert r["request_id"] == "o2" and base64.b64decode(r["body"]) == b"fine"


def test_a_one_octet_request_window_still_carries_every_byte(fake):
    f, ttf, holder = fake
    f.accept({"request_window": 1})
    body = os.urandom(3000)
    f.request("t1", "POST", "/echo", {"host": ["fake"], "content-length": [str(len(body))]},
              body[:1], more=True)
    sent, seq, credited = 1, 1, 0
    while sent < len(body):  # a server that sends exactly what it was credited
        m = f.recv_type("window", "http_response", "error", "cancel", timeout=5)
        assert m["type"] == "window" and m["request_id"] == "t1", m
        credited += m["increment"]
        assert 1 + credited - sent <= W, "a window past ttf's own"
        chunk = body[sent:sent + m["increment"]]
        f.piece("t1", seq, chunk, sent + len(chunk) < len(body))
        seq += 1
        sent += len(chunk)
    r = f.recv_type("http_response")
    got = base64.b64decode(r["body"])
    while r.get("more"):
        r = f.recv_type("http_response_body")
        got += base64.b64decode(r["body"])
    assert hashlib.sha256(got).digest() == hashlib.sha256(body).digest()
