# SPDX-License-Identifier: MIT
"""ttf's inspector JSON API (README "Inspector"): list, detail (heads, rendered bodies), raw
bodies, replay (as captured and edited), the capture bounds (per-body cap, byte budget), the
event stream, and the checks that keep other web sites out (Host, Origin, CSP)."""

import base64
import http.client
import json
import socket
import time
from urllib.parse import urlsplit

import pytest

import tunnelkit as tk


class Api:
    def __init__(self, base):
        u = urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.hostport = "%s:%d" % (self.host, self.port)

    def call(self, method, path, body=None, headers=None, host=None):
        c = http.client.HTTPConnection(self.host, self.port, timeout=20 * tk.SLOW)
        try:
            h = {"Host": host or self.hostport}
            h.update(headers or {})
            if body is not None and not isinstance(body, bytes):
                body = json.dumps(body).encode()
                h.setdefault("Content-Type", "application/json")
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
        finally:
            c.close()

    def get(self, path):
        st, _, data = self.call("GET", path)
        assert st == 200, (path, st, data)
        return json.loads(data)

    def replay(self, rid, edits=None, expect=201):
        st, h, data = self.call("POST", "/api/requests/%d/replay" % rid, body=edits or {})
        assert st == expect, (st, data)
        doc = json.loads(data)
        if expect == 201:
            assert h["location"] == "/api/requests/%d" % doc["id"]
        return doc

    def wait_entry(self, pred, what, timeout=15):
        def find():
            for s in self.get("/api/requests")["requests"]:
                if s["state"] != "pending" and pred(s):
                    return s
            return None
        return tk.wait_for(find, timeout, what)

    def detail(self, rid):
        return self.get("/api/requests/%d" % rid)


def start(stack, *ttf_args, local=None):
    srv = local or stack.local()
    d = stack.ttfd()
    a = stack.ttf(d.endpoint(), srv.port, *ttf_args)
    return srv, d, a, Api(a.inspector())


def through(d, a, method, target, headers=(), body=b"", chunked=False):
    return tk.http(d.port, method, target, tk.sub_host(d, a.tunnel_id), headers, body, chunked)


def hdr(pairs, name):
    return [v for n, v in pairs if n.lower() == name.lower()]


@pytest.mark.parametrize("mode", ["binary", "json"])
def test_list_and_detail(stack, mode):
    srv, d, a, api = start(stack, "--protocol", mode)
    r = through(d, a, "POST", "/echo?x=1", [("Content-Type", "application/json"), ("X-Test", "t1")],
                b'{"b":0.1,"a":[1,2]}')
    assert r.status == 200
    r = through(d, a, "PUT", "/raw-echo", [("Content-Type", "text/plain; charset=utf-8")],
                "caf\u00e9 <b>".encode())
    assert r.status == 200
    r = through(d, a, "GET", "/download?n=5000")
    assert r.status == 200 and len(r.body) == 5000

    s1 = api.wait_entry(lambda s: s["target"] == "/echo?x=1", "the JSON exchange")
    assert (s1["method"], s1["status"], s1["state"], s1["request_bytes"]) == ("POST", 200, "done", 19)
    assert s1["mode"] == ("bin" if mode == "binary" else "json")
    assert s1["duration_ms"] is not None and s1["replay_of"] is None
    x = api.detail(s1["id"])
    assert hdr(x["request"]["headers"], "X-Test") == ["t1"]
    # as sent: the public Host (--host-header preserve, the default)
    assert hdr(x["request"]["headers"], "Host") == [tk.sub_host(d, a.tunnel_id)]
    body = x["request"]["body"]
    assert (body["kind"], body["size"], body["truncated"]) == ("json", 19, False)
    assert body["text"] == '{\n  "b": 0.1,\n  "a": [\n    1,\n    2\n  ]\n}'  # numbers exact
    assert x["response"]["status"] == 200 and x["response"]["reason"] == "OK"
    assert x["response"]["body"]["kind"] == "json"
    assert json.loads(x["response"]["body"]["text"])["method"] == "POST"

    s2 = api.wait_entry(lambda s: s["target"] == "/raw-echo", "the text exchange")
    x = api.detail(s2["id"])
    assert x["request"]["body"]["kind"] == "text"
    assert x["request"]["body"]["text"] == "caf\u00e9 <b>"

    s3 = api.wait_entry(lambda s: s["target"] == "/download?n=5000", "the binary exchange")
    assert s3["response_bytes"] == 5000
    x = api.detail(s3["id"])
    rb = x["response"]["body"]
    assert rb["kind"] == "binary" and rb["size"] == 5000 and "text" not in rb
    first = tk.PATTERN[:16]
    assert rb["hex"].startswith("00000000  " + " ".join("%02x" % c for c in first[:8]))
    # The raw bytes, as a download that no browser renders.
    st, h, data = api.call("GET", "/api/requests/%d/response/body" % s3["id"])
    assert st == 200 and data == tk.PATTERN[:5000]
    assert h["content-type"] == "application/octet-stream"
    assert h["content-disposition"].startswith("attachment")
    assert "sandbox" in h["content-security-policy"]

    # Newest first.
    ids = [s["id"] for s in api.get("/api/requests")["requests"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 3


def test_chunked_request_body_is_decoded(stack):
    _, d, a, api = start(stack)
    payload = b"z" * 20000
    assert through(d, a, "POST", "/upload", body=payload, chunked=True).status == 200
    s = api.wait_entry(lambda s: s["target"] == "/upload", "the chunked upload")
    assert s["request_bytes"] == 20000
    st, _, data = api.call("GET", "/api/requests/%d/request/body" % s["id"])
    assert data == payload  # no chunk framing in the capture


def test_body_cap_and_budget(stack):
    _, d, a, api = start(stack, "--inspect-budget", "64k", "--inspect-body-max", "1000")
    assert through(d, a, "POST", "/raw-echo", body=b"u" * 5000).status == 200
    s = api.wait_entry(lambda s: s["target"] == "/raw-echo", "the upload")
    x = api.detail(s["id"])
    for part in (x["request"]["body"], x["response"]["body"]):
        assert (part["size"], part["captured"], part["truncated"]) == (5000, 1000, True)
    st, h, data = api.call("GET", "/api/requests/%d/request/body" % s["id"])
    assert data == b"u" * 1000 and h["x-body-truncated"] == "true"
    # A cut body cannot be replayed as captured; with a new body it can.
    doc = api.replay(s["id"], expect=409)
    assert "cut at 1000 of 5000" in doc["error"]
    new = api.replay(s["id"], {"body": "short"})
    x = api.wait_entry(lambda e: e["id"] == new["id"], "the replay with a body")
    assert x["status"] == 200 and x["response_bytes"] == 5

    # The budget: old exchanges go first, memory stays under it.
    for i in range(60):
        assert through(d, a, "GET", "/download?n=900&i=%d" % i).status == 200
    last = api.wait_entry(lambda e: e["target"] == "/download?n=900&i=59", "the last download")
    lst = api.get("/api/requests?limit=1000")
    assert lst["used_bytes"] <= 64 * 1024 and lst["budget_bytes"] == 64 * 1024
    assert lst["body_max_bytes"] == 1000
    assert lst["evicted"] > 0
    ids = [e["id"] for e in lst["requests"]]
    assert last["id"] in ids and s["id"] not in ids
    assert api.call("GET", "/api/requests/%d" % s["id"])[0] == 404


def test_replay(stack):
    srv, d, a, api = start(stack)
    r = through(d, a, "POST", "/counter?a=1", [("Content-Type", "application/json"),
                                               ("X-Keep", "yes")], b'{"v":1}')
    assert json.loads(r.body)["n"] == 1
    s = api.wait_entry(lambda s: s["target"] == "/counter?a=1", "the original")
    # As captured: the service sees the same request again and answers anew.
    new = api.replay(s["id"])
    x = api.wait_entry(lambda e: e["id"] == new["id"], "the replay")
    assert (x["mode"], x["replay_of"], x["status"], x["method"]) == ("replay", s["id"], 200, "POST")
    dx = api.detail(x["id"])
    assert json.loads(dx["response"]["body"]["text"]) == {"n": 2, "body": '{"v":1}'}
    assert hdr(dx["request"]["headers"], "X-Keep") == ["yes"]
    assert hdr(dx["request"]["headers"], "Host") == [tk.sub_host(d, a.tunnel_id)]
    # Edited: method, target, headers, body (text and base64).
    new = api.replay(s["id"], {"method": "PUT", "target": "/counter?b=2",
                               "headers": [["X-Edited", "1"], ["Content-Type", "text/plain"]],
                               "body": "edited"})
    x = api.wait_entry(lambda e: e["id"] == new["id"], "the edited replay")
    dx = api.detail(x["id"])
    assert (dx["method"], dx["target"]) == ("PUT", "/counter?b=2")
    assert hdr(dx["request"]["headers"], "X-Edited") == ["1"]
    assert hdr(dx["request"]["headers"], "X-Keep") == []
    assert json.loads(dx["response"]["body"]["text"]) == {"n": 3, "body": "edited"}
    new = api.replay(s["id"], {"body_b64": base64.b64encode(b"\x00\x01bin").decode(),
                               "target": "/raw-echo"})
    x = api.wait_entry(lambda e: e["id"] == new["id"], "the base64 replay")
    st, _, data = api.call("GET", "/api/requests/%d/response/body" % x["id"])
    assert data == b"\x00\x01bin"

    # Refusals with a reason.
    for edits, code, words in [({"method": "PROPFIND"}, 400, "cannot replay PROPFIND"),
                               ({"target": "no-slash"}, 400, "target"),
                               ({"headers": [["Bad Name", "x"]]}, 400, "invalid header"),
                               ({"headers": "nope"}, 400, "headers"),
                               ({"body": "a", "body_b64": "YQ=="}, 400, "not both")]:
        doc = api.replay(s["id"], edits, expect=code)
        assert words in doc["error"], doc
    st, _, data = api.call("POST", "/api/requests/%d/replay" % s["id"], body=b"{",
                           headers={"Content-Type": "application/json"})
    assert st == 400
    st, _, _ = api.call("POST", "/api/requests/%d/replay" % s["id"], body=b"{}",
                        headers={"Content-Type": "text/plain"})
    assert st == 415  # no cross-site form can post here
    assert api.call("POST", "/api/requests/99999/replay", body={})[0] == 404
    assert srv.state.counter == 3  # no refused replay reached the service

    # The local service gone: the replay is an entry that failed.
    srv.close()
    new = api.replay(s["id"])
    x = api.wait_entry(lambda e: e["id"] == new["id"], "the failed replay")
    assert x["state"] == "error" and x["status"] is None and x["error"]


def test_security_checks(stack):
    _, d, a, api = start(stack)
    assert through(d, a, "GET", "/x").status == 200
    api.wait_entry(lambda s: s["target"] == "/x", "the exchange")
    # DNS rebinding: a name that is not ours is refused; IP literals and localhost pass.
    for host, code in [("evil.example:%d" % api.port, 403), ("127.0.0.1", 403),
                       ("127.0.0.1:1", 403), ("localhost:%d" % api.port, 200),
                       ("127.0.0.1:%d" % api.port, 200)]:
        st, _, _ = api.call("GET", "/api/requests", host=host)
        assert st == code, (host, st)
    # Cross-site writes are refused.
    s = api.get("/api/requests")["requests"][0]
    for h in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
              {"Origin": "http://localhost:1"}):
        st, _, _ = api.call("POST", "/api/requests/%d/replay" % s["id"], body={}, headers=h)
        assert st == 403, h
        st, _, _ = api.call("DELETE", "/api/requests", headers=h)
        assert st == 403, h
    st, _, _ = api.call("POST", "/api/requests/%d/replay" % s["id"], body={},
                        headers={"Origin": "http://%s" % api.hostport,
                                 "Sec-Fetch-Site": "same-origin"})
    assert st == 201
    # The page: a strict CSP, no framing, no sniffing.
    st, h, page = api.call("GET", "/")
    assert st == 200 and b"<title>ttf inspector</title>" in page
    assert h["content-type"].startswith("text/html")
    csp = h["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert h["x-content-type-options"] == "nosniff"
    for asset, ctype in (("/app.js", "text/javascript"), ("/app.css", "text/css")):
        st, h, _ = api.call("GET", asset)
        assert st == 200 and h["content-type"].startswith(ctype)
    assert api.call("GET", "/nope")[0] == 404
    assert api.call("PUT", "/api/requests")[0] == 501  # evhttp: a method the server does not take
    # Clear.
    assert api.call("DELETE", "/api/requests")[0] == 200
    assert api.get("/api/requests")["requests"] == []


def test_event_stream(stack):
    _, d, a, api = start(stack)
    sock = socket.create_connection((api.host, api.port), timeout=15 * tk.SLOW)
    try:
        sock.sendall(("GET /api/events HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n"
                      % api.hostport).encode())
        buf = b""

        def read_until(marker):
            nonlocal buf
            end = tk.deadline(15)
            while marker not in buf:
                assert time.monotonic() < end, "no %r in the stream: %r" % (marker, buf[-500:])
                chunk = sock.recv(65536)
                assert chunk, "stream closed: %r" % buf
                buf += chunk

        read_until(b"event: hello")
        assert b"text/event-stream" in buf
        assert through(d, a, "GET", "/live-one").status == 200
        read_until(b"/live-one")
        read_until(b'"state":"done"')
        ev = [ln for ln in buf.split(b"\n") if b"/live-one" in ln and b'"done"' in ln][0]
        doc = json.loads(ev.split(b"data: ", 1)[1].split(b"\r\n")[0])
        assert doc["target"] == "/live-one" and doc["status"] == 200
    finally:
        sock.close()
    # The inspector goes on serving after a client left mid-stream.
    assert api.get("/api/status")["tunnel"]["state"] == "online"


def test_no_inspect_and_port_taken(stack):
    srv = stack.local()
    d = stack.ttfd()
    a = stack.ttf(d.endpoint(), srv.port, "--no-inspect")
    assert not any(ln.startswith("Inspector:") for ln in a.proc.out_lines)
    assert through(d, a, "GET", "/ok").status == 200
    # An explicit address in use: said so, and the tunnel works without an inspector.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        b = stack.ttf(d.endpoint(), srv.port, "--inspect", "127.0.0.1:%d" % port)
        b.proc.wait_line(r"inspector not started: cannot listen on 127\.0\.0\.1:%d" % port, 10,
                         stream="err")
        assert through(d, b, "GET", "/ok2").status == 200
    assert not any(ln.startswith("Inspector:") for ln in b.proc.out_lines)
