# SPDX-License-Identifier: MIT
"""A server that sends `ttf` field sections it cannot use (docs/protocol.md §2: header_order,
trailers). A fake ttfd (fakettfd.FakeTtfd) sends requests whose `header_order` does not use each
member's lines exactly once, is not an array of integers, or holds an integer beyond int64 (a
lexical fault: the text is refused before its fields are read), in the head message or in a
continuation (`http_request_headers`): each is answered `invalid_request` at once for its
request_id, never left to the server's timeout, and the next request is served. A message of
more JSON tokens than any message holds (lib/json_text.h) names no request: ttf drops it without
building it (it once parsed it whole with jansson to look for API Gateway's error: 4 MiB of `[]`
took ttf's peak RSS up by 190 MB, now 5 MB) and serves the next request."""

import pytest

import tunnelkit as tk
from fakettfd import FakeTtfd
from scriptapp import ScriptApp


def ok(req, conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    return True


@pytest.fixture
def fake(stack):
    app = ScriptApp({"/": ok})
    stack.items.append(("server", app, None))
    f = FakeTtfd()
    f.ttf = stack.ttf(f.endpoint, app.port, "--protocol", "json", wait=False)
    f.accept({})
    yield f
    f.close()


BAD_ORDERS = ["[2]", "[-1]", "[0,1,1]", "[1,1]", '["0"]', "[0.0,1]", "{}", "[[0],1]",
              "[0,18446744073709551616]", "[0,1e400]"]


def head(rid, order, more=False):
    return ('{"type":"http_request","request_id":"%s","method":"GET","uri":"/","headers":'
            '{"Host":["fake"],"A":["1"]},"header_order":%s,"headers_more":%s,"timestamp":0}'
            % (rid, order, "true" if more else "false")).encode()


def cont(rid, order):
    return ('{"type":"http_request_headers","request_id":"%s","seq":1,"headers":{"B":["1"],'
            '"C":["2"]},"header_order":%s,"headers_more":false}' % (rid, order)).encode()


@pytest.mark.parametrize("where", ["head", "continuation"])
def test_a_bad_header_order_is_refused_at_once(fake, where):
    for i, order in enumerate(BAD_ORDERS):
        rid = "bad%d" % i
        if where == "head":
            fake.send_text(head(rid, order))
        else:
            fake.send_text(head(rid, "[1,0]", more=True))
            fake.send_text(cont(rid, order))
        m = fake.recv_type("error", "http_response", timeout=5)
        assert m["request_id"] == rid and m["type"] == "error", (order, m)
        why = "invalid JSON" if order.endswith(("616]", "e400]")) else "bad headers"
        assert m["code"] == "invalid_request" and why in m["message"], (order, m)
    fake.send_text(head("good", "[1,0]"))
    m = fake.recv_type("error", "http_response", timeout=5)
    assert m["request_id"] == "good" and m.get("status_code") == 200, m


def test_too_many_tokens_are_dropped_unbuilt(fake):
    arrays = (4 * 1024 * 1024 - 200) // 3  # ttf's largest message (SESSION_MAX_MSG)
    text = ('{"type":"http_request","request_id":"big","method":"GET","uri":"/","headers":'
            '{"Host":["fake"]},"x":[' + ",".join(["[]"] * arrays) + '],"timestamp":0}').encode()
    before = fake.ttf.proc.vmhwm_kb()
    fake.send_text(text)
    fake.send_text(head("good", "[1,0]"))
    m = fake.recv_type("error", "http_response", timeout=10)
    assert m["request_id"] == "good" and m.get("status_code") == 200, m
    fake.ttf.proc.wait_line(r"a message of \d+ bytes with more than 524288 JSON tokens dropped",
                            10, stream="err")
    grown = fake.ttf.proc.vmhwm_kb() - before
    if not (tk.SANITIZED or tk.VALGRIND):  # memory then is not ttf's own
        assert grown < 40 * 1024, "ttf's peak RSS grew by %d kB" % grown
