# SPDX-License-Identifier: MIT
"""The Date field of what ttfd writes to a public client, in both wire modes (RFC 9110 §6.6.1).

Before: ttfd's own answers (404 tunnel not found, 502, ...) carried no Date, and a response whose
local service sent none got none either; RFC 9110 §6.6.1 wants one from an origin server with a
clock, and from "a recipient with a clock that receives a response message without a Date header
field" and forwards it. Go's net/http server (under frp's HTTP vhost) adds one the same way.
Now ttfd adds its own (IMF-fixdate, §5.6.7) to final responses without one; a Date the local
service sent passes byte for byte, once, when it is one HTTP-date, and becomes one of now when
it is empty, invalid or repeated; interim responses and trailers get none.
"""

import calendar
import re
import time

import pytest

import scriptapp
import tunnelkit as tk
from conftest import make_tunnel

IMF_FIXDATE = re.compile(rb"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} "
                         rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
                         rb"\d{2}:\d{2}:\d{2} GMT$")
OWN_DATE = b"Wed, 21 Oct 2015 07:28:00 GMT"


def no_date(req, conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    return True


def own_date(req, conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nDate: " + OWN_DATE + b"\r\nX-After: 1\r\n"
                 b"Content-Length: 2\r\n\r\nok")
    return True


def interim_then_trailers(req, conn):
    conn.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
                 b"HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"2\r\nok\r\n0\r\nX-Sum: 1\r\n\r\n")
    return True


def gzip_coded(req, conn):
    """A transfer coding the tunnel does not decode: ttfd answers 502 itself."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx")
    return False


BAD_DATES = {"/empty-date": b"Date:\r\n", "/bad-date": b"Date: yesterday\r\n",
             "/two-dates": b"Date: " + OWN_DATE + b"\r\nDate: " + OWN_DATE + b"\r\n"}


def bad_date(req, conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\n" + BAD_DATES[req.target] + b"X-After: 1\r\n"
                 b"Content-Length: 2\r\n\r\nok")
    return True


ROUTES = {"/no-date": no_date, "/own-date": own_date, "/interim": interim_then_trailers,
          "/coded": gzip_coded}
ROUTES.update({p: bad_date for p in BAD_DATES})


@pytest.fixture(scope="module", params=["bin", "json"])
def t(request, mstack):
    app = scriptapp.ScriptApp(ROUTES)
    mstack.items.append(("server", app, None))
    args = ("--protocol", "json") if request.param == "json" else ()
    return make_tunnel(mstack, ttf_args=args, local=app)


def date_lines(raw_head):
    return [ln for ln in raw_head.split(b"\r\n") if ln.lower().startswith(b"date:")]


def assert_now(line):
    """One "Date: <IMF-fixdate>" line, within a few seconds of this clock."""
    value = line[len(b"Date: "):]
    assert line.startswith(b"Date: ") and IMF_FIXDATE.match(value), line
    t = calendar.timegm(time.strptime(value.decode(), "%a, %d %b %Y %H:%M:%S GMT"))
    assert abs(t - time.time()) < 5 * tk.SLOW, (line, time.time())


def get(t, host, path, method="GET"):
    c = tk.RawConn(t.port, timeout=10)
    try:
        c.send(tk.build_request(method, path, host))
        return c.read_response(method)
    finally:
        c.close()


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_edge_answer_404_has_a_date(t, method):
    r = get(t, "nosuch-tunnel." + t.host.split(".", 1)[1], "/", method)
    assert r.status == 404
    [line] = date_lines(r.raw_head)
    assert_now(line)


def test_edge_answer_502_has_a_date(t):
    r = get(t, t.host, "/coded")
    assert r.status == 502 and b"transfer coding" in r.body
    [line] = date_lines(r.raw_head)
    assert_now(line)


def test_relayed_answer_without_date_gets_one(t):
    r = get(t, t.host, "/no-date")
    assert r.status == 200 and r.body == b"ok"
    [line] = date_lines(r.raw_head)
    assert_now(line)


def test_the_services_own_date_passes_byte_identical_once(t):
    r = get(t, t.host, "/own-date")
    assert r.status == 200 and r.body == b"ok"
    assert date_lines(r.raw_head) == [b"Date: " + OWN_DATE]
    # in its place, before the fields that followed it
    assert r.raw_head.index(b"Date: ") < r.raw_head.index(b"X-After: 1")


@pytest.mark.parametrize("path", sorted(BAD_DATES))
def test_an_invalid_date_becomes_one_of_now(t, path):
    """RFC 9110 §6.6.1: "A recipient with a clock that receives a response with an invalid Date
    header field value MAY replace that value": an empty one, one that is no HTTP-date, two lines
    of one field become one Date of now (before: passed on as sent). ttf, which writes no Date,
    removes it, and ttfd appends its own after the other fields, in both modes alike."""
    r = get(t, t.host, path)
    assert r.status == 200 and r.body == b"ok"
    [line] = date_lines(r.raw_head)
    assert_now(line)


def test_interim_and_trailers_get_none(t):
    c = tk.RawConn(t.port, timeout=10)
    try:
        c.send(tk.build_request("GET", "/interim", t.host))
        status, _, heads, raw = c.read_head()
        while 100 <= status < 200:  # the 103 (binary mode relays it; JSON mode does not)
            assert status == 103 and date_lines(raw) == []
            status, _, heads, raw = c.read_head()
        assert status == 200
        [line] = date_lines(raw)
        assert_now(line)
        if ("Content-Length", "2") in heads:  # JSON mode: the whole body came in one message
            assert c.read_exact(2) == b"ok"
            return
        assert c.read_until(b"\r\n") == b"2\r\n" and c.read_exact(4) == b"ok\r\n"
        assert c.read_until(b"\r\n") == b"0\r\n"
        trailers = []  # binary mode relays X-Sum; JSON mode drops trailers
        while (line := c.read_until(b"\r\n")) != b"\r\n":
            trailers.append(line)
        assert all(not ln.lower().startswith(b"date:") for ln in trailers), trailers
    finally:
        c.close()
