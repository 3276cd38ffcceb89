# SPDX-License-Identifier: MIT
"""What the Lambda must do beyond relaying, seen from outside (a scripted WebSocket client plays a
rogue or upstream agent; events are also sent to the Lambda directly):

- `ready` answered with `connection_established`, also when the new connection refuses the first
  posts (the Lambda retries); `ping` answered with `pong`; the subprotocol ttf.json.v1 selected;
- the completion write is conditional: another connection cannot answer a request it was not sent,
  and an answer for an unknown request creates nothing;
- upstream agents that send a whole body in one `http_response` still work;
- an unknown event is an error, not a crash; the scheduled cleanup deletes expired items, paginating;
- DynamoDB throttling and partial batch answers are retried; answers survive out-of-order pieces.
"""

import base64
import json
import concurrent.futures
import time
import uuid

import pytest

import awskit as ak
from conftest import Stack

TABLES = {"connections": "http-tunnel-connections-test", "pending": "http-tunnel-pending-requests-test"}


@pytest.fixture(scope="module")
def short(tmp_path_factory):
    """A stack with a 3 s request timeout and connections that refuse their first two posts (410),
    as a just-opened API Gateway connection may."""
    s = Stack(tmp_path_factory.mktemp("short"), env={"REQUEST_TIMEOUT_SECS": "3"},
              args=["--connect-refuse-posts", "2"])
    yield s
    assert s.close() == {"ttf": 0, "standin": 0}


@pytest.fixture(scope="module")
def jittery(tmp_path_factory):
    """Agent messages reach the Lambda out of order (random delays up to 40 ms before each $default)."""
    s = Stack(tmp_path_factory.mktemp("jittery"), args=["--message-jitter-ms", "40"])
    yield s
    assert s.close() == {"ttf": 0, "standin": 0}


def established(c):
    return c.expect(lambda m: m.get("type") == "connection_established", 15)


def test_ready_retried_until_the_connection_is_ready(short):
    # ttf got its tunnel although the first posts to its connection were refused
    assert short.standin.stats()["websocket"]["mgmt"]["not_ready"] >= 2
    c = ak.WsClient(short.standin.ws_url)
    try:
        assert c.protocol == "ttf.json.v1"
        c.send({"type": "ready"})
        m = established(c)
        assert len(m["tunnel_id"]) == 12 and m["connection_id"]
        assert m["public_url"].startswith("http://%s.%s" % (m["tunnel_id"], ak.DOMAIN))
        assert m["path_based_url"].endswith("/" + m["tunnel_id"])
        c.send({"type": "ping"})
        c.expect(lambda m: m.get("type") == "pong", 10)
    finally:
        c.close()


def test_response_pieces_out_of_order(jittery):
    """A 1 MiB answer in 16 KiB pieces whose $default invocations run in a shuffled order."""
    n = ak.MB + 12345
    for _ in range(2):
        t0 = time.monotonic()
        r = jittery.tunnel.sub("GET", "/download?n=%d" % n, timeout=30)
        assert r.status == 200 and r.body == ak.pattern(n), (r.status, time.monotonic() - t0)
    data = ak.pattern(n, seed=9)
    r = jittery.tunnel.path("POST", "/upload", headers=[("Content-Type", "application/octet-stream")], body=data)
    assert r.status == 200 and r.json() == {"len": n, "sha256": ak.sha(data)}


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    """DynamoDB throttles now and then and answers batches partially (UnprocessedItems/Keys)."""
    s = Stack(tmp_path_factory.mktemp("faulty"), args=["--ddb-faults", "0.3"])
    yield s
    assert s.close() == {"ttf": 0, "standin": 0}


def test_dynamodb_throttling_and_partial_batches_are_retried(faulty):
    n = 600 * 1024 + 7
    data = ak.pattern(n, seed=3)
    for i in range(3):
        r = faulty.tunnel.sub("POST", "/upload", headers=[("Content-Type", "application/octet-stream")], body=data)
        assert r.status == 200 and r.json() == {"len": n, "sha256": ak.sha(data)}, (i, r.status, r.body[:200])
        r = faulty.tunnel.path("GET", "/download?n=%d" % n)
        assert r.status == 200 and r.body == ak.pattern(n), (i, r.status, r.body[:200])
    for i in range(10):
        r = faulty.tunnel.sub("GET", "/echo?i=%d" % i)
        assert r.status == 200 and r.json()["target"] == "/echo?i=%d" % i
    f = faulty.standin.stats()["dynamodb"]["faults"]
    assert f["throttled"] > 0 and f["batch_write_trimmed"] + f["batch_get_trimmed"] > 0, f


def test_slow_dynamodb_still_answers_before_the_integration_timeout(tmp_path):
    """Every DynamoDB call 300 ms late. With a 3 s wait for the answer's head, the Lambda gives up
    on time (504 from the Lambda) and never runs into API Gateway's 29 s (503); with the default
    wait, a 1 MiB answer (64 pieces, each a slow $default invocation) arrives whole."""
    # --cap 16: the point is a slow DynamoDB, not 64 cold (sanitized) processes starving 2 cores
    s = Stack(tmp_path / "short", env={"REQUEST_TIMEOUT_SECS": "3"}, args=["--ddb-delay-ms", "300", "--cap", "16"])
    try:
        assert s.tunnel.sub("GET", "/status/200").status == 200
        t0 = time.monotonic()
        r = s.tunnel.sub("GET", "/hang", timeout=40)
        took = time.monotonic() - t0
        assert r.status == 504, (r.status, r.body[:100], took)
        assert r.body == b"the local service did not answer in time\n", r.body[:100]
        # the 3 s configured, not the 25 s default: generous slack for cold starts on a loaded machine
        assert 3 <= took < 15, took
        lam = s.standin.stats()["lambda"]
        assert lam["error_types"].get("Sandbox.Timedout", 0) == 0, lam["error_types"]
    finally:
        assert s.close() == {"ttf": 0, "standin": 0}
    # The default head wait (25 s): the answer's head comes in time even on a loaded machine, so
    # the one right answer is the whole body (a 3 s wait would make a late head a 504).
    s = Stack(tmp_path / "default", args=["--ddb-delay-ms", "300", "--cap", "16"])
    try:
        for _ in range(2):
            r = s.tunnel.sub("GET", "/download?n=%d" % ak.MB, timeout=40)
            assert r.status == 200, (r.status, r.body[:100])
            assert r.body == ak.pattern(ak.MB)
        lam = s.standin.stats()["lambda"]
        assert lam["error_types"].get("Sandbox.Timedout", 0) == 0, lam["error_types"]
    finally:
        assert s.close() == {"ttf": 0, "standin": 0}


def test_generic_endpoint_override(tmp_path):
    """AWS_ENDPOINT_URL alone (no AWS_ENDPOINT_URL_DYNAMODB) also leads the Lambda to DynamoDB."""
    s = Stack(tmp_path, env={"AWS_ENDPOINT_URL_DYNAMODB": "", "AWS_ENDPOINT_URL": "http://127.0.0.1:{DDB_PORT}"})
    try:
        r = s.tunnel.sub("GET", "/echo?override=1")
        assert r.status == 200 and r.json()["target"] == "/echo?override=1"
        assert s.standin.stats()["dynamodb"]["ops"].get("PutItem", 0) > 0
    finally:
        assert s.close() == {"ttf": 0, "standin": 0}


def test_unknown_types_and_garbage_are_dropped(short):
    c = ak.WsClient(short.standin.ws_url)
    try:
        c.send({"type": "ready"})
        established(c)
        for junk in ("not json", '{"type":"no_such_type"}', '{"no_type":1}', "[]", '{"type":"http_response"}'):
            c.send(junk)
        c.send({"type": "ping"})
        c.expect(lambda m: m.get("type") == "pong", 10)
        st = short.standin.stats()["lambda"]
        assert "Runtime.ExitError" not in st["error_types"], st
    finally:
        c.close()


def test_a_bad_ready_is_refused_at_once(short):
    """As from ttfd: a ready that does not decode gets tunnel_refused "ready_invalid" naming the
    field and the connection is closed (before: dropped, the agent waiting for an answer); once
    the tunnel is given, a bad ready is dropped and the tunnel goes on."""
    c = ak.WsClient(short.standin.ws_url)
    try:
        c.send('{"type":"ready","tunnel_id":5}')
        m = c.expect(lambda m: m.get("type") == "tunnel_refused", 15)
        assert m["code"] == "ready_invalid" and m["message"] == "bad ready: bad tunnel_id", m
        c.expect(lambda m: m.get("_event") == "close", 15)
    finally:
        c.close()
    c = ak.WsClient(short.standin.ws_url)
    try:
        c.send({"type": "ready"})
        established(c)
        c.send('{"type":"ready","tunnel_id":5}')
        c.send({"type": "ping"})
        c.expect(lambda m: m.get("type") == "pong", 10)
        assert c.none_within(lambda m: m.get("type") == "tunnel_refused" or
                             m.get("_event") == "close", 1)
    finally:
        c.close()


def pending_items(standin, prefix):
    return [i for i in standin.scan_all(TABLES["pending"]) if i["requestId"]["S"].startswith(prefix)]


def test_only_the_connection_a_request_was_sent_to_can_answer_it(short):
    rogue = ak.WsClient(short.standin.ws_url)
    try:
        rogue.send({"type": "ready"})
        established(rogue)
        short.app.hang_entered.clear()
        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            fut = ex.submit(short.tunnel.sub, "GET", "/hang?victim=1", (), None, 30)
            ak.wait_for(short.app.hang_entered.is_set, 15, "the request to reach the app")
            rid = [p["request_id"] for p in short.standin.posted() if p["uri"] == "/hang?victim=1"]
            assert len(rid) == 1
            body = base64.b64encode(b"pwned").decode()
            rogue.send({"type": "http_response", "request_id": rid[0], "status_code": 200,
                        "headers": {"x-pwned": ["1"]}, "body": body, "processing_time_ms": 1})
            rogue.send({"type": "error", "request_id": rid[0], "code": "invalid_request", "message": "pwned"})
            r = fut.result(30)
        assert r.status == 504, (r.status, r.body[:100])
        assert b"pwned" not in r.body and r.get("x-pwned") is None
    finally:
        rogue.close()


def test_an_answer_for_an_unknown_request_creates_nothing(short):
    c = ak.WsClient(short.standin.ws_url)
    try:
        c.send({"type": "ready"})
        established(c)
        rid = str(uuid.uuid4())
        c.send({"type": "http_response", "request_id": rid, "status_code": 200, "headers": {},
                "body": base64.b64encode(b"x").decode(), "more": True})
        c.send({"type": "http_response_body", "request_id": rid, "seq": 1, "body": "", "more": False})
        c.send({"type": "error", "request_id": rid, "code": "timeout", "message": "late"})
        c.send({"type": "ping"})
        c.expect(lambda m: m.get("type") == "pong", 10)
        # the three answers were invoked before the ping (one $default each, in arrival order):
        # wait until no invocation is running any more, so their writes are all done
        def idle():
            lam = short.standin.stats()["lambda"]
            return lam["invocations"] == lam["ok"] + lam["errors"]
        ak.wait_for(idle, 30, "the $default invocations to finish")
        items = pending_items(short.standin, rid)
        # no request record appears (nor completes); stray pieces, if any are kept, expire soon
        assert [i for i in items if i["requestId"]["S"] == rid] == [], items
        now = time.time()
        for i in items:
            assert "ttl" in i and int(i["ttl"]["N"]) < now + 3600, i["requestId"]["S"]
    finally:
        c.close()


def test_upstream_agent_single_message_response(short):
    """An agent that answers with one whole http_response (no pieces), as upstream's does."""
    c = ak.WsClient(short.standin.ws_url, protocols="ttf.json.v1")
    try:
        c.send({"type": "ready"})
        tid = established(c)["tunnel_id"]
        t = ak.Tunnel(short.standin, tid)
        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            fut = ex.submit(t.path, "POST", "/api/x?y=1", [("Content-Type", "text/plain")], b"hello", 30)
            req = c.expect(lambda m: m.get("type") == "http_request", 15)
            assert req["method"] == "POST" and req["uri"] == "/api/x?y=1"
            assert base64.b64decode(req["body"]) == b"hello"
            payload = bytes(range(256)) * 40
            c.send({"type": "http_response", "request_id": req["request_id"], "status_code": 201,
                    "headers": {"content-type": ["application/octet-stream"], "set-cookie": ["s=1", "t=2"]},
                    "body": base64.b64encode(payload).decode(), "processing_time_ms": 3})
            r = fut.result(30)
        assert r.status == 201 and r.body == payload
        assert r.all("Set-Cookie") == ["s=1", "t=2"]
    finally:
        c.close()


@pytest.mark.parametrize("fields", [
    {"status_code": 200, "headers": {"x-a": ["a\r\nSet-Cookie: evil=1"]}},
    {"status_code": 1000, "headers": {}},
    {"status_code": 2 ** 64, "headers": {}},
], ids=["crlf-in-header", "status-1000", "status-beyond-int64"])
def test_bad_answer_from_the_agent_is_502_at_once(short, fields):
    """An http_response that fails decoding but names its request fails that request at once
    (502), as ttfd does, instead of leaving the client to the 3 s timeout's 504; also when a
    number beyond int64 makes the whole text invalid to the codec."""
    c = ak.WsClient(short.standin.ws_url, protocols="ttf.json.v1")
    try:
        c.send({"type": "ready"})
        tid = established(c)["tunnel_id"]
        t = ak.Tunnel(short.standin, tid)
        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            fut = ex.submit(t.path, "GET", "/bad-answer", [], None, 30)
            req = c.expect(lambda m: m.get("type") == "http_request", 15)
            msg = {"type": "http_response", "request_id": req["request_id"], "body": ""}
            msg.update(fields)
            c.send(msg)
            r = fut.result(30)
        assert r.status == 502, (r.status, r.body)
        assert r.all("Set-Cookie") == []
    finally:
        c.close()


def test_unknown_event_is_an_error_not_a_crash(short):
    before = short.standin.stats()["lambda"]
    for ev in ({"foo": "bar"}, {"requestContext": {"eventType": "MESSAGE"}}, [], {"version": "2.0"}):
        r = short.standin.invoke(ev)
        assert r.get("errorType") != "Runtime.ExitError", r
    after = short.standin.stats()["lambda"]
    assert after["error_types"].get("Runtime.ExitError", 0) == before["error_types"].get("Runtime.ExitError", 0)
    assert short.tunnel.sub("GET", "/status/200").status == 200


def test_scheduled_cleanup_deletes_expired_items_paginating(short):
    now = int(time.time())
    blob = "b" * 30000
    # ~1.5 MB of expired pending items: more than one 1 MB Scan page
    for i in range(50):
        short.standin.dynamodb("PutItem", {"TableName": TABLES["pending"], "Item": {
            "requestId": {"S": "expired-%03d" % i}, "ttl": {"N": str(now - 100)}, "pad": {"S": blob}}})
    for i in range(3):
        short.standin.dynamodb("PutItem", {"TableName": TABLES["pending"], "Item": {
            "requestId": {"S": "live-%d" % i}, "ttl": {"N": str(now + 3600)}}})
    short.standin.dynamodb("PutItem", {"TableName": TABLES["connections"], "Item": {
        "connectionId": {"S": "gone-conn"}, "tunnelId": {"S": "zzzzzzzzzzz1"}, "ttl": {"N": str(now - 100)}}})
    ev = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
          "account": "123456789012", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
          "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/http-tunnel-cleanup-test"],
          "detail": {}}
    r = short.standin.invoke(ev)
    assert r["ok"], r
    left = [i["requestId"]["S"] for i in short.standin.scan_all(TABLES["pending"])]
    assert not [k for k in left if k.startswith("expired-")], "expired items left: %d" % len(left)
    assert sorted(k for k in left if k.startswith("live-")) == ["live-0", "live-1", "live-2"]
    conns = [i["connectionId"]["S"] for i in short.standin.scan_all(TABLES["connections"])]
    assert "gone-conn" not in conns
    # the live tunnel survived the cleanup
    assert short.tunnel.sub("GET", "/status/200").status == 200


def _concurrent_slow(stack, n, ms):
    def one(i):
        t0 = time.monotonic()
        r = stack.tunnel.sub("GET", "/slow?ms=%d&i=%d" % (ms, i), timeout=40)
        return r, time.monotonic() - t0

    with concurrent.futures.ThreadPoolExecutor(n) as ex:
        return list(ex.map(one, range(n)))


def test_concurrency_limits_throttle_fast_and_never_starve_agent_messages(tmp_path):
    """Two functions with reserved concurrency 3 each (as infra/ deploys them): 4 concurrent
    requests of 1.5 s. Three are answered (the agent's answers run in the WebSocket routes'
    function, whatever the waiting requests hold); the fourth is throttled by Lambda at once
    (TooManyRequestsException, not queued) and API Gateway answers it with its 500 at once,
    instead of a 504 after 25 s."""
    s = Stack(tmp_path, env={"REQUEST_TIMEOUT_SECS": "10"},
              args=["--http-concurrency", "3", "--ws-concurrency", "3"])
    try:
        assert s.tunnel.sub("GET", "/status/200").status == 200
        res = _concurrent_slow(s, 4, 1500)
        ok = [took for r, took in res if r.status == 200]
        failed = [(r.status, r.body, took) for r, took in res if r.status != 200]
        assert len(ok) == 3, res
        assert len(failed) == 1 and failed[0][0] == 500, failed
        assert b"Internal Server Error" in failed[0][1]
        assert failed[0][2] < 1.0 * ak.SLOW, failed  # failed fast: nothing waited for it
        fn = s.standin.stats()["lambda"]["functions"]
        assert fn["http"]["throttles"] == 1 and fn["ws"]["throttles"] == 0, fn
        assert fn["http"]["max_busy"] <= 3 and fn["ws"]["max_busy"] <= 3, fn
    finally:
        assert s.close() == {"ttf": 0, "standin": 0}


def _leases(stack):
    """The admission item's leases (request id -> expiry, Unix ms), {} when there are none."""
    it = stack.standin.dynamodb("GetItem", {"TableName": TABLES["pending"], "ConsistentRead": True,
                                            "Key": {"requestId": {"S": "admission#http"}}}).get("Item") or {}
    return {k: int(v["N"]) for k, v in it.get("leases", {}).get("M", {}).items()}


def _admission_stack(tmp_path, timeout_ms=None):
    """HTTP function concurrency 3, of which 2 for waiting requests (MAX_WAITING_REQUESTS, which
    infra/ sets to httpConcurrency minus a tenth, at least 1) and 1 for the fast refusals."""
    env = {"MAX_WAITING_REQUESTS": "2", "REQUEST_TIMEOUT_SECS": str(min(28, int(10 * ak.SLOW)))}
    args = ["--http-concurrency", "3", "--ws-concurrency", "3"]
    if timeout_ms:
        env["REQUEST_TIMEOUT_SECS"] = str(timeout_ms // 1000 - 1)
        args += ["--function-timeout-ms", str(timeout_ms)]
    return Stack(tmp_path, env=env, args=args)


def test_past_the_admission_limit_requests_get_a_fast_503(tmp_path):
    """While 2 requests wait for the app, each further one is answered by the HTTP function
    itself at once: 503 with Retry-After and a short body, not Lambda's throttle (API Gateway's
    500, as without admission above). The admitted ones get their answers when the app answers,
    and release their places after their responses."""
    s = _admission_stack(tmp_path)
    try:
        assert s.tunnel.sub("GET", "/status/200").status == 200
        # released once the response is posted to the Runtime API: the client may be first
        ak.wait_for(lambda: _leases(s) == {}, 5, "the lease released after the response")
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            slow = [ex.submit(s.tunnel.sub, "GET", "/slow?ms=%d&i=%d" % (6000 * ak.SLOW, i)) for i in range(2)]
            ak.wait_for(lambda: len(_leases(s)) == 2, 10, "two requests admitted")
            for i in range(4):
                t0 = time.monotonic()
                r = s.tunnel.sub("GET", "/status/200?i=%d" % i)
                took = time.monotonic() - t0
                assert r.status == 503, (i, r.status, r.body[:200])
                assert r.get("retry-after") == "1" and len(r.body) < 64, (r.headers, r.body)
                assert r.get("cache-control") == "no-store", r.headers
                assert took < 1.0 * ak.SLOW, took
            res = [f.result() for f in slow]
        assert [r.status for r in res] == [200, 200], [(r.status, r.body[:100]) for r in res]
        ak.wait_for(lambda: _leases(s) == {}, 5, "both places released")
        assert s.tunnel.sub("GET", "/status/200").status == 200
        fn = s.standin.stats()["lambda"]["functions"]
        assert fn["http"]["throttles"] == 0 and fn["ws"]["throttles"] == 0, fn
    finally:
        assert s.close() == {"ttf": 0, "standin": 0}


def test_the_place_of_an_invocation_that_died_is_free_when_its_lease_ends(tmp_path):
    """Both waiting invocations crash without releasing their places: their leases keep the
    places taken (new environments refuse with 503) until the invocations' deadline, and not a
    moment longer: the next request then is admitted, removing the expired leases."""
    s = _admission_stack(tmp_path, timeout_ms=int(8000 * ak.SLOW))
    try:
        assert s.tunnel.sub("GET", "/status/200").status == 200
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            slow = [ex.submit(s.tunnel.sub, "GET", "/slow?ms=%d&i=%d" % (3000 * ak.SLOW, i)) for i in range(2)]
            leases = ak.wait_for(lambda: (lambda m: len(m) == 2 and m)(_leases(s)), 10, "two requests admitted")
            assert s.standin.crash_busy("http") == 2
            res = [f.result() for f in slow]
        assert [r.status for r in res] == [500, 500], [(r.status, r.body[:100]) for r in res]
        expiry_ms = max(leases.values())
        assert time.time() * 1000 < expiry_ms - 1000, "the leases end at the invocations' deadline"
        r = s.tunnel.sub("GET", "/status/200")
        assert r.status == 503, (r.status, r.body)
        assert set(_leases(s)) == set(leases), "the dead invocations' leases are kept"
        ak.wait_for(lambda: time.time() * 1000 > expiry_ms, 10, "the leases' expiry")
        t0 = time.monotonic()
        r = s.tunnel.sub("GET", "/status/200")
        assert r.status == 200 and time.monotonic() - t0 < 1.0 * ak.SLOW, (r.status, r.body)
        ak.wait_for(lambda: _leases(s) == {}, 5, "the expired leases removed, the new one released")
    finally:
        assert s.close() == {"ttf": 0, "standin": 0}


def test_one_function_for_both_apis_starves_agent_messages(tmp_path):
    """Upstream's layout, one function with concurrency 3: three waiting requests hold every
    environment, the agent's answers are throttled, and all three time out (the reason for two
    functions). A 3 s wait keeps the test short."""
    s = Stack(tmp_path, env={"REQUEST_TIMEOUT_SECS": "3"}, args=["--cap", "3", "--single-function"])
    try:
        assert s.tunnel.sub("GET", "/status/200").status == 200
        res = _concurrent_slow(s, 3, 500)
        assert [r.status for r, _ in res] == [504, 504, 504], [(r.status, r.body[:80]) for r, _ in res]
        assert s.standin.stats()["lambda"]["throttles"] >= 1
    finally:
        assert s.close() == {"ttf": 0, "standin": 0}


def test_post_to_connection_429_is_retried(tmp_path):
    """@connections answers LimitExceededException (429) to about half the posts (the first time
    each): the Lambda retries with backoff and jitter, and every request, small or with a body in
    several pieces, is answered as if nothing happened."""
    s = Stack(tmp_path, args=["--post-limit", "0.5"])
    try:
        for i in range(8):
            r = s.tunnel.sub("GET", "/echo?i=%d" % i)
            assert r.status == 200 and r.json()["target"] == "/echo?i=%d" % i, (i, r.status, r.body[:200])
        data = ak.pattern(500 * 1024, seed=4)
        r = s.tunnel.sub("POST", "/upload", headers=[("Content-Type", "application/octet-stream")], body=data)
        assert r.status == 200 and r.json() == {"len": len(data), "sha256": ak.sha(data)}, r.body[:200]
        st = s.standin.stats()["websocket"]["mgmt"]
        assert st["limit_exceeded"] >= 3, st
    finally:
        assert s.close() == {"ttf": 0, "standin": 0}


def _http_event(host, raw_path, headers=None, method="GET"):
    now = int(time.time() * 1000)
    h = {"host": host, "user-agent": "t"}
    h.update(headers or {})
    return {"version": "2.0", "routeKey": "$default", "rawPath": raw_path, "rawQueryString": "", "headers": h,
            "requestContext": {"accountId": "123456789012", "apiId": "standinhttp", "domainName": host,
                               "domainPrefix": host.split(".")[0],
                               "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1",
                                        "sourceIp": "127.0.0.1", "userAgent": "t"},
                               "requestId": "x", "routeKey": "$default", "stage": "$default",
                               "time": "", "timeEpoch": now},
            "isBase64Encoded": False}


def test_requests_the_agent_cannot_use_are_answered_at_once(short):
    """A request ttf cannot send to the local app (a header with a control byte, a method that is
    no token) is answered with invalid_request (400) at once, not after the wait (504)."""
    host = "%s.%s" % (short.tid, ak.DOMAIN)
    for ev in (_http_event(host, "/bad-header", {"x-bad": "a\u0001b"}),
               _http_event(host, "/bad-method", method="GE T")):
        t0 = time.monotonic()
        r = short.standin.invoke(ev)
        took = time.monotonic() - t0
        assert r["ok"], r
        doc = json.loads(r["body"])
        assert doc["statusCode"] == 400, (doc, took)
        assert took < 2.0 * ak.SLOW, took
    assert short.tunnel.sub("GET", "/status/200").status == 200


def test_agent_moves_to_a_new_connection_before_the_2_hour_limit(tmp_path):
    """API Gateway closes connections after 2 hours (here 6 s): ttf opens its next connection
    before that, takes its tunnel over (ready + takeover secret) and leaves the old one once its
    requests are answered. Requests sent all along are all answered: no 404/502 gap."""
    s = Stack(tmp_path, env={"CONNECTION_MAX_LIFETIME_SECS": "6"}, args=["--connection-max-ms", "6000"])
    try:
        first = {c["connectionId"] for c in s.standin.connections()}
        statuses = []
        end = time.monotonic() + 14
        i = 0
        while time.monotonic() < end:
            r = s.tunnel.sub("GET", "/echo?i=%d" % i, timeout=30)
            statuses.append(r.status)
            assert r.status == 200, (i, r.status, r.body[:200], s.agent.stderr())
            i += 1
            time.sleep(0.02)
        now = {c["connectionId"] for c in s.standin.connections()}
        assert not (first & now), "still on the first connection"
        out = "\n".join(s.agent.err)
        assert out.count("moved to a new connection") >= 2, out[-2000:]
        assert not [l for l in s.agent.out if "Tunnel established" in l][1:], s.agent.out
        assert s.standin.stats()["websocket"]["expired"].get("idle", 0) == 0
        print("%d requests over 14 s, every one 200, across %d moves" % (len(statuses), out.count("moved to")))
    finally:
        assert s.close() == {"ttf": 0, "standin": 0}


def test_move_survives_the_old_connection_closing_first(tmp_path):
    """A slow back-end (every DynamoDB call 300 ms late: the next connection's ready takes longer
    than ttf's margin before the limit) closes the old connection before the new one has taken
    the tunnel over. ttf keeps the new connection and its move (no reconnection from scratch, no
    new URL), takes the requests the server sends it before its connection_established, and
    every request is answered."""
    s = Stack(tmp_path, env={"CONNECTION_MAX_LIFETIME_SECS": "6"},
              args=["--connection-max-ms", "6000", "--ddb-delay-ms", "300"])
    try:
        first = {c["connectionId"] for c in s.standin.connections()}
        end = time.monotonic() + 16
        i = 0
        while time.monotonic() < end:
            r = s.tunnel.sub("GET", "/echo?i=%d" % i, timeout=30)
            assert r.status == 200, (i, r.status, r.body[:200], "\n".join(s.agent.err))
            i += 1
        now = {c["connectionId"] for c in s.standin.connections()}
        assert not (first & now), "still on the first connection"
        out = "\n".join(s.agent.err)
        assert "the next connection takes the tunnel over" in out, out[-3000:]
        assert "after the previous one closed" in out, out[-3000:]
        assert "Reconnecting" not in out, out[-3000:]
        assert not [l for l in s.agent.out if "Tunnel established" in l][1:], s.agent.out
    finally:
        assert s.close() == {"ttf": 0, "standin": 0}


def test_idle_connections_are_closed(tmp_path):
    """After the idle timeout (10 minutes; here 1.5 s) without a message from the client, the
    stand-in closes the connection as API Gateway does (1001)."""
    s = Stack(tmp_path, args=["--idle-timeout-ms", "1500"])
    c = ak.WsClient(s.standin.ws_url)
    try:
        c.send({"type": "ready"})
        c.expect(lambda m: m.get("type") == "connection_established", 15)
        closed = c.expect(lambda m: m.get("_event") == "close", 10)
        assert closed.get("code") == 1001, closed
        assert s.standin.stats()["websocket"]["expired"]["idle"] >= 1
    finally:
        c.close()
        s.close()


def test_throttled_agent_messages_are_sent_again(tmp_path):
    """The WebSocket routes' function limited to 3: a 4 MiB answer (45 messages) exceeds it and
    Lambda throttles some $default invocations (lost: API Gateway does not retry them). The Lambda
    acknowledges each answer through the $default route response, ttf keeps a window of
    unacknowledged answers and sends the lost ones again: the download completes. Without the route
    response (one-way), the same download times out."""
    s = Stack(tmp_path / "two-way", args=["--ws-concurrency", "3"])
    try:
        for _ in range(2):
            r = s.tunnel.sub("GET", "/download?n=%d" % (4 * ak.MB), timeout=60)
            assert r.status == 200 and r.body == ak.pattern(4 * ak.MB), (r.status, r.body[:100])
        st = s.standin.stats()
        assert st["lambda"]["functions"]["ws"]["throttles"] > 0, st["lambda"]["functions"]["ws"]
        assert st["websocket"]["route_responses"] > 0
    finally:
        assert s.close() == {"ttf": 0, "standin": 0}
    s = Stack(tmp_path / "one-way", env={"REQUEST_TIMEOUT_SECS": "5"}, args=["--ws-concurrency", "3", "--one-way"])
    try:
        r = s.tunnel.sub("GET", "/download?n=%d" % (4 * ak.MB), timeout=60)
        assert r.status == 504, r.status
    finally:
        assert s.close() == {"ttf": 0, "standin": 0}


def test_global_index_lag_neither_loses_a_new_tunnel_nor_a_moved_one(tmp_path):
    """DynamoDB's global secondary indexes are eventually consistent ("Using Global Secondary
    Indexes in DynamoDB": propagation within a fraction of a second): the tunnel-id-index may not
    show a connection for a while after its tunnelId was written. Here every such write stays out
    of the index for 700 ms (--gsi-lag-ms). A request sent as soon as ttf reports the tunnel, and
    requests sent while ttf moves its tunnel to its next connection (6 s lifetimes), are all
    answered, none with the Lambda's 404 'tunnel not found' for a tunnel that is there."""
    s = Stack(tmp_path, env={"CONNECTION_MAX_LIFETIME_SECS": "6"},
              args=["--gsi-lag-ms", "700", "--connection-max-ms", "6000"])
    try:
        r = s.tunnel.sub("GET", "/echo?first=1")
        assert r.status == 200, (r.status, r.body[:200])
        first = {c["connectionId"] for c in s.standin.connections()}
        end = time.monotonic() + 14
        i = 0
        while time.monotonic() < end:
            r = s.tunnel.sub("GET", "/echo?i=%d" % i, timeout=30)
            assert r.status == 200, (i, r.status, r.body[:200])
            i += 1
        assert not (first & {c["connectionId"] for c in s.standin.connections()}), "never moved"
        assert s.standin.stats()["dynamodb"]["gsi"]["hidden"] > 0, "the lag never hid an item"
    finally:
        assert s.close() == {"ttf": 0, "standin": 0}
