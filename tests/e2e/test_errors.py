# SPDX-License-Identifier: MIT
"""Each error status ttfd answers with: 404, 502 (agent gone, local service refused), 504,
431, 413, 400; each with a short text/plain body and Cache-Control: no-store (it tells the
tunnel's state at that moment, not the origin's resource: a 404 is heuristically cacheable, RFC
9111 §4.2.2, and a CDN in front of ttfd kept it past the agent's reconnection)."""

import socket
import threading
import time

import pytest

import rawagent
import scriptapp
import tunnelkit as tk
from conftest import make_tunnel


def assert_error(r, status):
    assert r.status == status, "expected %d, got %d %r %r" % (status, r.status, r.raw_head, r.body[:200])
    ctype = (r.get("Content-Type") or "").split(";")[0].strip()
    assert ctype == "text/plain", "error without text/plain: %r" % r.raw_head
    assert 0 < len(r.body) <= 200 and r.body.count(b"\n") <= 1, "not a one-line body: %r" % r.body
    assert r.get("Cache-Control") == "no-store", "an edge's answer a cache may keep: %r" % r.raw_head


def test_unknown_tunnel_404_subdomain(tunnel):
    other = "zzzzzzzzzzzz" if tunnel.id != "zzzzzzzzzzzz" else "yyyyyyyyyyyy"
    assert_error(tk.http(tunnel.port, "GET", "/", "%s.localhost:%d" % (other, tunnel.port)), 404)


def test_unknown_tunnel_404_path(tunnel):
    other = "zzzzzzzzzzzz" if tunnel.id != "zzzzzzzzzzzz" else "yyyyyyyyyyyy"
    assert_error(tk.http(tunnel.port, "GET", "/%s/x?y" % other, tunnel.phost), 404)
    assert_error(tk.http(tunnel.port, "POST", "/%s" % other, tunnel.phost, body=b"abc"), 404)


def test_no_tunnel_in_request_404(tunnel):
    assert_error(tk.http(tunnel.port, "GET", "/", tunnel.phost), 404)


@pytest.mark.parametrize("mode", sorted(rawagent.MODES))
def test_name_held_for_its_reconnecting_agent_404_not_cacheable(stack, mode):
    """The agent's link closed: its name waits for it (--reconnect-grace), and a client in the
    meantime gets the 404 of no tunnel; a cache must not keep it past the agent's return."""
    d = stack.ttfd("--state", ":memory:")
    a = rawagent.MODES[mode](d.port)
    tid = a.ready()["tunnel_id"]
    a.close()
    got = []

    def gone():
        got.append(tk.http(d.port, "GET", "/", tk.sub_host(d, tid)))
        return got[-1].status == 404
    tk.wait_for(gone, 10 * tk.SLOW, "the 404 of the gone agent", interval=0.1)
    assert_error(got[-1], 404)


def test_unparsable_request_400(tunnel):
    c = tk.RawConn(tunnel.port)
    try:
        c.send(b"THIS IS NOT HTTP\r\n\r\n")
        try:
            r = c.read_response()
        except (EOFError, ConnectionError):
            pytest.fail("ttfd closed the connection without a 400")
        assert_error(r, 400)
    finally:
        c.close()


def test_bad_content_length_400(tunnel):
    c = tk.RawConn(tunnel.port)
    try:
        c.send(("POST /x HTTP/1.1\r\nHost: %s\r\nContent-Length: abc\r\n\r\n" % tunnel.host).encode())
        try:
            r = c.read_response()
        except (EOFError, ConnectionError):
            pytest.fail("ttfd closed the connection without a 400")
        assert_error(r, 400)
    finally:
        c.close()


def test_agent_gone_mid_request_502(stack):
    t = make_tunnel(stack)
    result = {}

    def client():
        try:
            result["r"] = tk.http(t.port, "GET", "/sleep?s=60", t.host, timeout=30)
        except Exception as e:  # reported below
            result["e"] = e

    th = threading.Thread(target=client, daemon=True)
    th.start()
    assert t.local.state.sleep_entered.wait(10 * tk.SLOW), "request never reached the local service"
    t0 = time.monotonic()
    stack.expect(t.ttf.proc, None)
    t.ttf.proc.kill()
    th.join(20 * tk.SLOW)
    assert not th.is_alive(), "public client still waiting 20 s after the agent died"
    assert "e" not in result, "public client got no answer: %r" % result.get("e")
    assert_error(result["r"], 502)
    assert time.monotonic() - t0 < 10 * tk.SLOW
    # ttfd released the id before it answered the 502 (the session ended): now it is unknown.
    assert_error(tk.http(t.port, "GET", "/", t.host), 404)


def test_local_service_refused_502(stack):
    closed = tk.free_port()
    d = stack.ttfd()
    a = stack.ttf(d.endpoint(), closed)
    host = tk.sub_host(d, a.tunnel_id)
    assert_error(tk.http(d.port, "GET", "/anything", host), 502)
    assert_error(tk.http(d.port, "POST", "/anything", host, body=b"x" * 1000), 502)
    # Path mode too.
    assert_error(tk.http(d.port, "GET", "/%s/x" % a.tunnel_id, tk.path_host(d)), 502)


# Whichever end's wait runs out (ttfd's, ttf's, the Lambda's: tests/aws/test_serverless.py), the
# client reads the same words: ttf (--request-timeout 115 s by default) and the Lambda (25 s) race
# on the serverless path. Before, ttf's said "no response from the local service within 1 s".
TIMEOUT_TEXT = b"the local service did not answer in time\n"


@pytest.mark.parametrize("mode", ["bin", "json"])
def test_server_request_timeout_504(stack, mode):
    json = ("--protocol", "json") if mode == "json" else ()
    t = make_tunnel(stack, ttfd_args=("--request-timeout", "1"),
                    ttf_args=("--request-timeout", "60") + json)
    t0 = time.monotonic()
    r = tk.http(t.port, "GET", "/hang", t.host, timeout=30)
    elapsed = time.monotonic() - t0
    assert_error(r, 504)
    assert r.body == TIMEOUT_TEXT
    assert t.local.state.hang_entered.is_set()
    assert 0.8 <= elapsed <= 10 * tk.SLOW, "504 after %.1f s with --request-timeout 1" % elapsed


@pytest.mark.parametrize("mode", ["bin", "json"])
def test_agent_request_timeout_504(stack, mode):
    json = ("--protocol", "json") if mode == "json" else ()
    t = make_tunnel(stack, ttfd_args=("--request-timeout", "60"),
                    ttf_args=("--request-timeout", "1") + json)
    t0 = time.monotonic()
    r = tk.http(t.port, "GET", "/hang", t.host, timeout=30)
    elapsed = time.monotonic() - t0
    assert_error(r, 504)
    assert r.body == TIMEOUT_TEXT
    assert elapsed <= 10 * tk.SLOW, "504 after %.1f s with ttf --request-timeout 1" % elapsed


def test_headers_too_large_431_default(tunnel):
    r = tk.http(tunnel.port, "GET", "/", tunnel.host, [("X-Big", "a" * 20000)])
    assert_error(r, 431)


def test_headers_limit_configurable_431(stack):
    t = make_tunnel(stack, ttfd_args=("--max-header-size", "4096"))
    assert_error(tk.http(t.port, "GET", "/", t.host, [("X-Big", "a" * 5000)]), 431)
    assert_error(tk.http(t.port, "GET", "/", t.host, [("X-H%d" % i, "v" * 60) for i in range(80)]), 431)
    r = tk.http(t.port, "GET", "/ok", t.host, [("X-Big", "a" * 2000)])
    assert r.status == 200


def test_body_too_large_413(stack):
    t = make_tunnel(stack, ttfd_args=("--max-body-size", "1000"))
    assert tk.http(t.port, "POST", "/raw-echo", t.host, body=b"y" * 1000).status == 200
    assert_error(tk.http(t.port, "POST", "/raw-echo", t.host, body=b"y" * 5000), 413)
    r = tk.http(t.port, "POST", "/raw-echo", t.host, body=b"z" * 5000, chunked=True)
    assert r.status == 413, "chunked body over the limit: %d %r" % (r.status, r.raw_head)
    # The server still works afterwards.
    assert tk.http(t.port, "GET", "/after", t.host).status == 200


def processing_then_ok(req, conn):
    """102 Processing every 0.5 s for 3 s (RFC 2518 §10.1: it keeps a client from timing out),
    then the answer."""
    for _ in range(6):
        conn.sendall(b"HTTP/1.1 102 Processing\r\n\r\n")
        time.sleep(0.5)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    return True


@pytest.mark.parametrize("mode", ["bin", "json"])
@pytest.mark.parametrize("side", ["ttfd", "ttf"])
def test_interim_responses_restart_the_request_timeout(stack, mode, side):
    """A service that sends interim responses is at work: --request-timeout (2 s here, on ttfd
    or on ttf) counts from the last one, as nginx's read timeout counts from the last read.
    Before, the client got the 102s and then ttf's or ttfd's 504 after 2 s."""
    json = ("--protocol", "json") if mode == "json" else ()
    short, long_ = ("--request-timeout", "2"), ("--request-timeout", "60")
    app = stack.closing(scriptapp.ScriptApp({"/work": processing_then_ok}))
    t = make_tunnel(stack, ttfd_args=short if side == "ttfd" else long_,
                    ttf_args=(short if side == "ttf" else long_) + json, local=app)
    c = tk.RawConn(t.port, timeout=30)
    c.send(tk.build_request("GET", "/work", t.host))
    statuses = []
    r = c.read_response()
    while r.status < 200:
        statuses.append(r.status)
        r = c.read_response()
    c.close()
    assert (r.status, r.body) == (200, b"ok"), (statuses, r.status, r.body)
    assert statuses and set(statuses) == {102}, statuses


@pytest.mark.parametrize("mode", ["bin", "json"])
def test_a_flood_of_interim_responses_waits_for_the_tunnel(stack, mode):
    """A service sending interim responses faster than the tunnel takes them (a 102 loop gone
    wrong) waits for it, as its body would, while the client reads little; it goes on once the
    tunnel took them (the flood ends). Before, ttf read on and queued every one for the link:
    300,000 of 930 bytes peaked ttf 163 MB higher in binary mode."""
    flooded = threading.Event()

    def flood(req, conn):
        head = b"HTTP/1.1 102 Processing\r\nX-Pad: " + b"x" * 900 + b"\r\n\r\n"
        for _ in range(300_000):
            conn.sendall(head)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        flooded.set()
        return True

    app = stack.closing(scriptapp.ScriptApp({"/flood": flood}))
    json = ("--protocol", "json") if mode == "json" else ()
    t = make_tunnel(stack, ttf_args=("--request-timeout", "60") + json, local=app)
    base = t.ttf.proc.vmhwm_kb()
    c = tk.RawConn(t.port, timeout=30)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        c.send(tk.build_request("GET", "/flood", t.host))
        assert flooded.wait(60 * tk.SLOW), "the service's interim responses were never taken"
        grown = t.ttf.proc.vmhwm_kb() - base
        assert c.read_response().status == 102
    finally:
        c.close()
    if not (tk.SANITIZED or tk.VALGRIND):  # memory then is not ttf's own
        assert grown < 48 * 1024, "ttf grew %d kB" % grown
