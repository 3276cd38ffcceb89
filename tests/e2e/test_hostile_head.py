# SPDX-License-Identifier: MIT
"""A hostile agent cannot make ttfd allocate without bound on a response head (docs/protocol.md §4
"Limits"), in both wire modes.

ttfd takes a response head of at most 1 MiB + 64 KiB and 65536 field lines from an agent (what
ttf lets through at its largest --max-response-header-size, 1 MiB, written again with a space
after each colon), a JSON trailer section of 16 KiB as binary mode's decoder, and a JSON text
of at most 2^19 tokens (counted before json-c builds an object for each). Beyond the head's
limits, the client gets `502 the tunnel agent sent too big a response head`, the stream is reset
(binary: RESET protocol_error; JSON: cancel "protocol_error: ...") with the reason logged, and the
agent's link and its other streams go on. A JSON text of more tokens than any message of the
protocol holds is read no further: ttfd closes the agent's link (1009) with the reason logged, the
client gets `502 the tunnel agent went away`. Before the limits a 4 MB JSON message of 1M header
lines raised ttfd's peak RSS by 160 MB, 6 MB with header_order by 300 MB, and 12 MiB of `[]` by
630 MB; the client got the whole head.
"""

import pytest

import rawagent as ra
import tunnelkit as tk

TEXT = b"the tunnel agent sent too big a response head\n"
GONE = b"the tunnel agent went away\n"
# peak RSS growth one message may cost ttfd (the 2^19 tokens json-c may build: ~80 MB, measured);
# under ASan or valgrind memory is not ttfd's own
GROWTH_MAX_KB = 120 * 1024


@pytest.fixture
def server(stack):
    return stack.ttfd("--state", ":memory:")


def hwm_kb(server):
    with open("/proc/%d/status" % server.proc.p.pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def check_growth(server, before):
    if not (tk.SANITIZED or tk.VALGRIND):
        grown = hwm_kb(server) - before
        assert grown < GROWTH_MAX_KB, "ttfd's peak RSS grew by %d kB" % grown


def bin_head(fields):
    return (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n" + b"a: b\r\n" * (fields - 1) + b"\r\n")


def over_then_at_limit(server, a, big, stopped, why, at_limit, name):
    """The agent a answers a first request with big(request), over the limit: the client gets the
    502, stopped(request) sees the stream reset, ttfd logs why and stays small; the same link then
    answers a second request with at_limit(request), 65535 lines of name and Content-Length."""
    try:
        a.ready()
        host = tk.sub_host(server, a.tunnel_id)
        before = hwm_kb(server)
        c = ra.keepalive_get(server.port, host, "/big")
        req = a.recv_request()
        big(req)
        r = c.read_response()
        assert r.status == 502 and r.body == TEXT, (r.status, r.body[:200])
        stopped(req)
        server.proc.wait_line(r"tunnel %s .*%s" % (a.tunnel_id, why), 10, stream="err")
        check_growth(server, before)
        c2 = ra.keepalive_get(server.port, host, "/next")
        at_limit(a.recv_request())
        r = c2.read_response()
        assert r.status == 200 and len(r.get_all(name)) == 65535
    finally:
        a.close()


@pytest.mark.parametrize("fields", [65537, 1000000])
def test_bin_head_over_the_limit(server, fields):
    a = ra.BinAgent(server.port)
    over_then_at_limit(
        server, a, lambda req: a.send_frame(ra.RESPONSE, ra.FIN, req[0], bin_head(fields)),
        lambda req: a.wait_reset(req[0]) == ra.RST_PROTOCOL_ERROR or pytest.fail("no RESET"),
        "response head over 1114112 bytes or 65536 field lines",
        lambda req: a.send_frame(ra.RESPONSE, ra.FIN, req[0], bin_head(65536)), "A")


def json_head(rid, lines, order):
    text = ('{"type":"http_response","request_id":"%s","status_code":200,"headers":'
            '{"content-length":["0"],"x":[' % rid) + ",".join(['"a"'] * lines) + "]}"
    if order:
        text += ',"header_order":[0,' + ",".join(["1"] * lines) + "]"
    return (text + "}").encode()


def json_tiny_values(rid):
    """12 MiB (ttfd's largest agent message) of [] in a member ttfd does not know."""
    n = (12 * 1024 * 1024 - 400) // 3
    return ('{"type":"http_response","request_id":"%s","status_code":200,"headers":'
            '{"content-length":["0"]},"x":[' % rid + ",".join(["[]"] * n) + "]}").encode()


def cancelled(a, rid):
    cancel = a.recv_type("cancel")
    assert cancel["request_id"] == rid and "protocol_error" in cancel.get("reason", "")


def test_json_head_over_the_field_limit(server):
    a = ra.JsonAgent(server.port)
    over_then_at_limit(server, a, lambda req: a.send_ws(1, json_head(req[0]["request_id"], 65536,
                                                                     False)),
                       lambda req: cancelled(a, req[0]["request_id"]),
                       "response head over 1114112 bytes or 65536 field lines",
                       lambda req: a.send_ws(1, json_head(req[0]["request_id"], 65535, True)),
                       "X")


@pytest.mark.parametrize("case", ["1M lines", "1M lines with order", "12 MiB of []",
                                  "12 MiB of [] after a bad number"])
def test_json_too_many_tokens(server, case):
    """More tokens than any message holds: the link closes, whatever the text holds before them
    (a lexical fault first once had the text built by its structure alone), and ttfd stays
    small."""
    a = ra.JsonAgent(server.port)
    try:
        a.ready()
        host = tk.sub_host(server, a.tunnel_id)
        before = hwm_kb(server)
        c = ra.keepalive_get(server.port, host, "/big")
        rid = a.recv_request()[0]["request_id"]
        if case.startswith("12 MiB"):
            text = json_tiny_values(rid)
            if case.endswith("bad number"):
                text = text.replace(b'"status_code":200', b'"status_code":01', 1)
            a.send_ws(1, text)
        else:
            a.send_ws(1, json_head(rid, 1000000, case.endswith("order")))
        assert a.recv_ws(until_close=True) == (1009, "more than 524288 JSON tokens")
        server.proc.wait_line(r"tunnel %s: a message of \d+ bytes with more than 524288 JSON "
                              r"tokens: closing the link" % a.tunnel_id, 10, stream="err")
        a.close()
        r = c.read_response()
        assert r.status == 502 and r.body == GONE, (r.status, r.body[:200])
        check_growth(server, before)
    finally:
        a.close()
