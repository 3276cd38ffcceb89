# SPDX-License-Identifier: MIT
"""The Lambda on the JSON-mode v2 contract, end to end through the stand-in (issues 11 and 12 on
the Lambda path): the Lambda frames responses itself (a Content-Length is exact; pieces past the
last one, a second response, a body where none may be: 502 and a log line naming the tunnel,
never the agent's extra bytes), cancel both ways, head continuation messages, tunnel_id in
http_request, an early answer returned at once, header octets as far as API Gateway carries them,
and API Gateway's own limit on request heads.

Hostile or scripted agents are WsClient processes speaking the JSON protocol by hand; the rest
runs the real ttf in front of the suite's local app.
"""

import base64
import calendar
import concurrent.futures
import json
import time

import pytest

import awskit as ak
from conftest import Stack


def b64(data):
    return base64.b64encode(data).decode()


class Rogue:
    """A scripted agent: one WebSocket connection with its own tunnel."""

    def __init__(self, standin):
        self.standin = standin
        self.c = ak.WsClient(standin.ws_url)
        assert self.c.protocol == "ttf.json.v1"
        self.c.send({"type": "ready"})
        m = self.c.expect(lambda m: m.get("type") == "connection_established", 20)
        self.tid = m["tunnel_id"]
        self.pool = concurrent.futures.ThreadPoolExecutor(2)

    def public(self, method, target, headers=(), body=None, timeout=40):
        host = "%s.%s:%d" % (self.tid, ak.DOMAIN, self.standin.http_port)
        return self.pool.submit(ak.public, self.standin.http_port, method, target, host, headers, body,
                                timeout)

    def next(self, mtype, timeout=20):
        return self.c.expect(lambda m: m.get("type") == mtype, timeout)

    def send(self, msg):
        self.c.send(msg)

    def close(self):
        self.c.close()
        self.pool.shutdown(wait=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The default stack (real ttf); REQUEST_TIMEOUT_SECS 3 so that the Lambda gives up soon."""
    s = Stack(tmp_path_factory.mktemp("relay"), env={"REQUEST_TIMEOUT_SECS": "3"})
    yield s
    assert s.close()["standin"] == 0


@pytest.fixture
def rogue(site):
    r = Rogue(site.standin)
    yield r
    r.close()


def response(rid, status=200, headers=None, body=b"", more=False, **extra):
    m = {"type": "http_response", "request_id": rid, "status_code": status, "headers": headers or {},
         "body": b64(body), "more": more, "processing_time_ms": 1}
    m.update(extra)
    return m


def piece(rid, seq, body, more):
    return {"type": "http_response_body", "request_id": rid, "seq": seq, "body": b64(body), "more": more}


def lambda_log_has(standin, *parts):
    return any(all(p in l for p in parts) for l in standin.lambda_log_text().splitlines())


# ------------------------------------------------------------------ framing (issue 12 item 1)

BREACHES = {
    # name: (method, agent messages after the request, text in the log)
    "longer than Content-Length": ("GET", lambda rid: [
        response(rid, headers={"content-length": ["5"]}, body=b"hello FORGED")], "Content-Length"),
    "longer, in pieces": ("GET", lambda rid: [
        response(rid, headers={"content-length": ["10"]}, body=b"12345", more=True),
        piece(rid, 1, b"67890FORGED", False)], "Content-Length"),
    "shorter than Content-Length": ("GET", lambda rid: [
        response(rid, headers={"content-length": ["10"]}, body=b"12345")], "Content-Length"),
    # the piece past the last one is in the table before the last one names the count (the
    # agent waits for its ack); one sent after the answer went out is simply never read
    "a piece after the last": ("GET", lambda rid: [
        response(rid, body=b"ab", more=True), piece(rid, 2, b"FORGED", True),
        ("ack", "http_response_body", 2), piece(rid, 1, b"cd", False)], "after the end"),
    # (API Gateway invokes $default per message, in any order: each step waits for the ack of
    # the one before where the order matters)
    "a second response": ("GET", lambda rid: [
        response(rid, body=b"ab", more=True), ("ack", "http_response", None),
        response(rid, body=b"FORGED"), ("ack", "http_response", None),
        piece(rid, 1, b"cd", False)], "second response"),
    "a body on 204": ("GET", lambda rid: [response(rid, status=204, body=b"FORGED")], "no body"),
    "a body on 304": ("GET", lambda rid: [response(rid, status=304, body=b"FORGED")], "no body"),
    "a body for HEAD": ("HEAD", lambda rid: [
        response(rid, headers={"content-length": ["6"]}, body=b"FORGED")], "no body"),
}


@pytest.mark.parametrize("case", sorted(BREACHES))
def test_a_response_past_its_framing_never_reaches_the_client(rogue, site, case):
    method, script, logged = BREACHES[case]
    fut = rogue.public(method, "/x")
    req = rogue.next("http_request")
    for m in script(req["request_id"]):
        if isinstance(m, tuple):  # wait until the Lambda acknowledged message m[1] (seq m[2])
            rogue.c.expect(lambda a: a.get("type") == "ack" and a.get("of") == m[1] and
                           a.get("seq") == m[2], 20)
        else:
            rogue.send(m)
    r = fut.result(40)
    assert r.status == 502, (case, r.status, r.body[:200])
    assert b"FORGED" not in r.body and b"67890" not in r.body
    ak.wait_for(lambda: lambda_log_has(site.standin, rogue.tid, logged), 10,
                "a log line naming the tunnel (%s)" % logged)


def test_bodiless_answers_and_head_keep_their_head(rogue):
    fut = rogue.public("HEAD", "/x")
    rid = rogue.next("http_request")["request_id"]
    rogue.send(response(rid, headers={"content-length": ["1234"], "x-h": ["1"]}))
    r = fut.result(40)
    assert r.status == 200 and r.body == b"" and r.get("x-h") == "1"
    fut = rogue.public("GET", "/y")
    rid = rogue.next("http_request")["request_id"]
    rogue.send(response(rid, status=204, headers={"x-h": ["2"]}))
    r = fut.result(40)
    assert r.status == 204 and r.body == b"" and r.get("x-h") == "2"


def test_interim_responses_are_not_forwarded(rogue):
    fut = rogue.public("GET", "/x")
    rid = rogue.next("http_request")["request_id"]
    rogue.send(response(rid, status=103, headers={"link": ["</s.css>; rel=preload"]}))
    rogue.send(response(rid, headers={"content-length": ["2"]}, body=b"ok"))
    r = fut.result(40)
    assert r.status == 200 and r.body == b"ok" and r.get("link") is None


def test_one_date_per_answer_and_the_services_own_passes(rogue, site):
    """RFC 9110 §6.6.1 on the Lambda path: API Gateway writes the Date (an HTTP API answer carries
    `date` whether or not the Lambda sent one: awslabs/aws-lambda-go-api-proxy#75 shows one on a
    Lambda answer without any); the Lambda adds none of its own (lib/proxy.h: proxy_response.date
    is NULL there), so a Date the local service sent reaches the client once and as it was."""
    fut = rogue.public("GET", "/none")
    rid = rogue.next("http_request")["request_id"]
    rogue.send(response(rid, headers={"content-length": ["2"]}, body=b"ok"))
    r = fut.result(40)
    [date] = r.all("date")
    t = calendar.timegm(time.strptime(date, "%a, %d %b %Y %H:%M:%S GMT"))
    assert abs(t - time.time()) < 10 * ak.SLOW, date
    fut = rogue.public("GET", "/own")
    rid = rogue.next("http_request")["request_id"]
    rogue.send(response(rid, headers={"date": ["Wed, 21 Oct 2015 07:28:00 GMT"],
                                      "content-length": ["2"]}, body=b"ok"))
    r = fut.result(40)
    assert r.status == 200 and r.all("date") == ["Wed, 21 Oct 2015 07:28:00 GMT"], r.headers
    # the edge's own answer
    r = ak.public(site.standin.http_port, "GET", "/", "nosuch.%s:%d" % (ak.DOMAIN,
                                                                         site.standin.http_port))
    assert r.status == 404 and len(r.all("date")) == 1, r.headers


# ------------------------------------------------------------------ the v2 messages


def test_http_request_names_its_tunnel(rogue):
    fut = rogue.public("GET", "/t")
    req = rogue.next("http_request")
    assert req.get("tunnel_id") == rogue.tid, req
    rogue.send(response(req["request_id"], body=b"ok"))
    assert fut.result(40).status == 200


def test_the_lambda_cancels_when_it_gives_up(rogue):
    """No answer within REQUEST_TIMEOUT_SECS: 504 to the client, cancel to the agent (the HTTP API
    never tells the Lambda that the client left: this is the only cancel the Lambda can send)."""
    fut = rogue.public("GET", "/slow")
    rid = rogue.next("http_request")["request_id"]
    r = fut.result(40)
    assert r.status == 504, (r.status, r.body)
    c = rogue.next("cancel", 10)
    assert c["request_id"] == rid and c.get("reason")


def test_a_cancel_from_the_agent_fails_the_request(rogue):
    """The local service failed after the head: the client gets a 502, never the partial body."""
    fut = rogue.public("GET", "/x")
    rid = rogue.next("http_request")["request_id"]
    rogue.send(response(rid, body=b"PARTIAL", more=True))
    rogue.send({"type": "cancel", "request_id": rid, "reason": "local service closed the connection"})
    r = fut.result(40)
    assert r.status == 502, (r.status, r.body)
    assert b"local service failed during its response" in r.body and b"PARTIAL" not in r.body


def test_a_response_head_over_several_messages(rogue):
    """150 KB of response fields: http_response with headers_more, then http_response_headers
    (this scripted agent sends each message in one frame, so each stays under API Gateway's 32 KB
    frame; ttf fills 128 KB messages)."""
    fields = {"x-f%02d" % i: [chr(65 + i) * 10000] for i in range(15)}
    names = sorted(fields)
    parts = [names[i:i + 3] for i in range(0, len(names), 3)]
    fut = rogue.public("GET", "/big-head")
    rid = rogue.next("http_request")["request_id"]
    rogue.send(response(rid, headers={n: fields[n] for n in parts[0]}, more=True, headers_more=True))
    for seq, part in enumerate(parts[1:], 1):
        rogue.send({"type": "http_response_headers", "request_id": rid, "seq": seq,
                    "headers": {n: fields[n] for n in part}, "headers_more": seq < len(parts) - 1})
    rogue.send(piece(rid, 1, b"body", False))
    r = fut.result(40)
    assert r.status == 200 and r.body == b"body", (r.status, r.body)
    for n in names:
        assert r.get(n) == fields[n][0], n


@pytest.fixture(scope="module")
def slow_table(tmp_path_factory):
    """Every DynamoDB call of the Lambda 40 ms late: posting a 4 MiB upload takes seconds."""
    s = Stack(tmp_path_factory.mktemp("slowtable"), args=["--ddb-delay-ms", "40"])
    yield s
    assert s.close()["standin"] == 0


def test_an_early_answer_is_returned_at_once(slow_table):
    """The app answers 403 on the head of a 4 MiB upload (44 body pieces to post): the Lambda
    returns the 403 without posting the rest, and cancels the request at the agent."""
    rogue = Rogue(slow_table.standin)
    try:
        data = ak.pattern(4 * ak.MB, seed=3)
        fut = rogue.public("POST", "/upload", headers=[("Content-Type", "application/octet-stream")],
                           body=data)
        rid = rogue.next("http_request")["request_id"]
        rogue.send(response(rid, status=403, body=b"no"))
        r = fut.result(60)
        assert r.status == 403 and r.body == b"no", (r.status, r.body[:200])
        rogue.next("cancel", 10)
        pieces = []
        while True:
            try:
                pieces.append(rogue.c.expect(lambda m: m.get("type") == "http_request_body", 1, scale=False))
            except AssertionError:
                break
        assert len(pieces) < 44, len(pieces)
    finally:
        rogue.close()


# ------------------------------------------------------------------ with the real ttf


def test_through_ttf_a_large_response_head_and_an_early_answer(site):
    """The same through the real ttf: a 20 KiB response head (20 Set-Cookie of 1 KB), and an app
    that answers 403 to an upload without reading it gets its 403 to the client."""
    r = site.tunnel.sub("GET", "/many-cookies?n=20")
    assert r.status == 200, (r.status, r.body[:200])
    assert len(r.all("Set-Cookie")) == 20
    data = ak.pattern(ak.MB, seed=5)
    r = site.tunnel.sub("POST", "/reject", headers=[("Content-Type", "application/octet-stream")], body=data)
    assert r.status == 403 and r.body == b"rejected", (r.status, r.body[:200])


def test_a_service_that_neither_reads_nor_answers_an_upload_holds_back_only_it(site):
    """The Lambda announces no request windows: ttf holds a body its local service does not read
    up to 4 MiB (the Lambda's largest) before it stops reading the link for it, so the tunnel's
    other requests are answered meanwhile, and the Lambda's cancel reaches ttf when it gives up
    (REQUEST_TIMEOUT_SECS 3 here). The kernel used to hold such a body; since ttf lets it hold
    only 512 KiB unsent (TCP_NOTSENT_LOWAT), the link stopped after 64 KiB: every request of the
    tunnel waited out the Lambda's time (504) until ttf's own --request-timeout freed it."""
    site.app.sink_entered.clear()
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        sink = pool.submit(site.tunnel.sub, "POST", "/sink", body=ak.pattern(ak.BIG, seed=9))
        ak.wait_for(site.app.sink_entered.is_set, 20, "the upload to reach the local service")
        answered = 0
        while not sink.done():  # back to back while the Lambda waits for the sink's answer
            t0 = time.monotonic()
            r = site.tunnel.sub("GET", "/status/200")
            took = time.monotonic() - t0
            assert r.status == 200, (r.status, r.body[:200], "after %.1f s" % took)
            answered += 1
        assert sink.result().status == 504
        assert answered > 0
    finally:
        pool.shutdown(wait=True)


def test_a_response_head_with_bare_lf_line_ends(site):
    """ttf reads its local service's head with bare LF line ends (RFC 9112 §2.2, as nginx and
    Go-based tunnels do; it was 502) and the Lambda path relays it like the others."""
    r = site.tunnel.sub("GET", "/lf-only")
    assert r.status == 201, (r.status, r.body[:200])
    assert r.get("Content-Type") == "text/plain" and r.body == b"ok"
    assert sorted(r.all("Set-Cookie")) == ["a=1", "b=2"]


def test_octets_that_are_not_utf8(site):
    """Response: an ISO-8859-1 octet in a field value reaches the client as the same character in
    UTF-8 (API Gateway writes header values as UTF-8); UTF-8 values unchanged. Request: UTF-8
    values reach the app byte for byte; an octet that is not UTF-8 arrives as U+FFFD, because API
    Gateway replaced it before the Lambda saw it (docs/serverless.md)."""
    r = site.tunnel.sub("GET", "/obs-header")
    assert r.status == 200, (r.status, r.body)
    assert r.get("Content-Disposition").encode("latin-1") == b'attachment; filename="caf\xc3\xa9.txt"'
    assert r.get("X-Utf8").encode("latin-1") == b"J\xc3\xb6rg"
    r = site.tunnel.sub("GET", "/echo", headers=[("X-Utf8", b"J\xc3\xb6rg"), ("X-Latin1", b"J\xf6rg")])
    assert r.status == 200, (r.status, r.body)
    got = {k.lower(): v.encode("latin-1") for k, v in r.json()["headers"]}
    assert got["x-utf8"] == b"J\xc3\xb6rg"
    assert got["x-latin1"] == b"J\xef\xbf\xbdrg"


def test_large_heads(site, rogue):
    """A 20 KiB response head reaches the client (here from a scripted agent: ttf's own limit on
    local response heads is relay-agent's --max-response-header-size); a request head reaches the
    app up to API Gateway's own limit (10240 bytes of request line and fields), and past it API
    Gateway answers 431 itself: a 40 KiB Cookie never reaches the Lambda."""
    fut = rogue.public("GET", "/cookies")
    rid = rogue.next("http_request")["request_id"]
    cookies = ["c%02d=%s" % (i, chr(65 + i) * 1020) for i in range(20)]
    rogue.send(response(rid, headers={"set-cookie": cookies, "content-length": ["2"]}, body=b"ok"))
    r = fut.result(40)
    assert r.status == 200, (r.status, r.body[:200])
    assert r.all("Set-Cookie") == cookies
    cookie = "big=" + "c" * 9000
    r = site.tunnel.sub("GET", "/echo", headers=[("Cookie", cookie)])
    assert r.status == 200, (r.status, r.body[:200])
    assert dict((k.lower(), v) for k, v in r.json()["headers"])["cookie"] == cookie
    before = site.standin.stats()["lambda"]["invocations"]
    r = site.tunnel.sub("GET", "/echo", headers=[("Cookie", "big=" + "c" * 40 * 1024)])
    assert r.status == 431, (r.status, r.body[:200])
    assert site.standin.stats()["lambda"]["invocations"] == before
