# SPDX-License-Identifier: MIT
"""Observability of ttfd (issue 16 "Observability"), with real ttfd, ttf and local services:

- `ttfd --admin 127.0.0.1:0` serves /healthz (JSON) and /metrics (Prometheus text format, parsed
  strictly here: every line a valid sample or comment, TYPE before samples, no duplicate series,
  cumulative histogram buckets ending in +Inf = count);
- /metrics is scraped before and after known requests and every counter moved by exactly what
  they did (requests by code and class, the latency histogram, bytes each way, refusals by
  reason, agent connects, reconnects and disconnects), and the gauges follow live state;
- `--log-format json` makes every log line one JSON object; one per public request, carrying
  the tunnel id, method, path, status, bytes, duration and client;
- the admin listener is off by default.
"""

import base64
import json
import math
import os
import re
import resource
import socket
import subprocess
import threading
import urllib.error
import urllib.request

import tunnelkit as tk

PASSWORD = "correct-horse-battery"
AUTH = [("Authorization", "Basic " + base64.b64encode(("alice:" + PASSWORD).encode()).decode())]

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE_RE = re.compile(r"^(%s)(?:\{(.*)\})? (\S+)$" % NAME)
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
COMMENT_RE = re.compile(r"^# (HELP|TYPE) (%s) (.+)$" % NAME)
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def parse_labels(text):
    """Strict label set: name="value" pairs separated by single commas, nothing else."""
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL_RE.match(text, pos)
        assert m, "bad label set %r at %d" % (text, pos)
        assert m.group(1) not in labels, "label %s twice in %r" % (m.group(1), text)
        labels[m.group(1)] = m.group(2)
        pos = m.end()
        if pos < len(text):
            assert text[pos] == ",", "bad label separator in %r" % text
            pos += 1
            assert pos < len(text), "trailing comma in %r" % text
    return labels


def parse_exposition(text):
    """{(name, ((label, value), ...)): float}; asserts the text format 0.0.4 strictly."""
    assert text.endswith("\n"), "the exposition must end with a newline"
    types, helps, samples, sampled = {}, set(), {}, set()
    for line in text[:-1].split("\n"):
        if line.startswith("#"):
            m = COMMENT_RE.match(line)
            assert m, "bad comment line %r" % line
            kind, name, rest = m.groups()
            if kind == "TYPE":
                assert rest in TYPES, line
                assert name not in types, "TYPE twice for %s" % name
                assert name not in sampled, "TYPE after samples of %s" % name
                types[name] = rest
            else:
                assert name not in helps, "HELP twice for %s" % name
                helps.add(name)
            continue
        m = SAMPLE_RE.match(line)
        assert m, "not a sample line: %r" % line
        name, labels, value = m.group(1), parse_labels(m.group(2) or ""), m.group(3)
        v = float(value)  # also +Inf, -Inf, NaN
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and types.get(name[:-len(suffix)]) == "histogram":
                family = name[:-len(suffix)]
        assert family in types, "sample %s before its TYPE" % name
        assert family in helps, "no HELP for %s" % family
        sampled.add(family)
        if types[family] == "counter":
            assert name.endswith("_total"), "counter %s without _total" % name
            assert v >= 0 and v == int(v), line
        key = (name, tuple(sorted(labels.items())))
        assert key not in samples, "duplicate series %r" % (key,)
        samples[key] = v
    for family, kind in types.items():
        if kind != "histogram":
            continue
        buckets = sorted(((float(dict(k[1])["le"]), v) for k, v in samples.items()
                          if k[0] == family + "_bucket"), key=lambda b: b[0])
        assert buckets and math.isinf(buckets[-1][0]), "%s: no +Inf bucket" % family
        for (_, a), (_, b) in zip(buckets, buckets[1:]):
            assert a <= b, "%s: buckets not cumulative" % family
        assert buckets[-1][1] == samples[(family + "_count", ())], "%s: +Inf != count" % family
        assert (family + "_sum", ()) in samples
    return samples


VERSION = subprocess.run([tk.TTFD_BIN, "--version"], capture_output=True, text=True,
                         timeout=10).stdout.split()[-1]


def get(port, path, method="GET"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=10 * tk.SLOW) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def scrape(d):
    status, headers, body = get(d.admin_port, "/metrics")
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8", headers
    return parse_exposition(body.decode("utf-8"))


def val(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


def delta(before, after, name, **labels):
    key = (name, tuple(sorted(labels.items())))
    return after[key] - before.get(key, 0)


def raw_len(r):
    assert r.get("Transfer-Encoding") is None  # every answer here has a Content-Length
    return len(r.raw_head) + len(r.body)


def test_metrics_move_exactly(stack, tmp_path):
    srv = stack.local()
    d = stack.ttfd("--admin", "127.0.0.1:0")
    state = tmp_path / "ttf-state"
    state.mkdir()
    env = {"XDG_STATE_HOME": str(state)}
    openo = stack.ttf(d.endpoint(), srv.port, env=env)
    locked = stack.ttf(d.endpoint(), srv.port, "--protocol", "json", "--basic-auth",
                       "alice:" + PASSWORD)
    before = scrape(d)
    assert val(before, "ttfd_tunnels") == 2 and val(before, "ttfd_agents") == 2
    assert val(before, "ttfd_agent_connects_total") == 2
    assert val(before, "ttfd_build_info", version=VERSION) == 1

    out = 0
    r = tk.http(d.port, "GET", "/x", tk.sub_host(d, openo.tunnel_id))
    assert r.status == 200
    out += raw_len(r)
    r = tk.http(d.port, "POST", "/raw-echo", tk.sub_host(d, openo.tunnel_id), body=b"z" * 1000)
    assert r.status == 200 and r.body == b"z" * 1000
    out += raw_len(r)
    r = tk.http(d.port, "GET", "/status/503", tk.sub_host(d, openo.tunnel_id))
    assert r.status == 503
    out += raw_len(r)
    r = tk.http(d.port, "GET", "/", tk.sub_host(d, locked.tunnel_id))
    assert r.status == 401
    out += raw_len(r)
    r = tk.http(d.port, "GET", "/", tk.sub_host(d, "nosuchtunnel"))
    assert r.status == 404
    out += raw_len(r)
    r = tk.http(d.port, "PUT", "/raw-echo", tk.sub_host(d, locked.tunnel_id), AUTH, b"y" * 234)
    assert r.status == 200 and r.body == b"y" * 234
    out += raw_len(r)

    after = scrape(d)
    expect = {("ttfd_http_requests_total", ("code", "200")): 3,
              ("ttfd_http_requests_total", ("code", "401")): 1,
              ("ttfd_http_requests_total", ("code", "404")): 1,
              ("ttfd_http_requests_total", ("code", "503")): 1,
              ("ttfd_http_requests_by_class_total", ("class", "2xx")): 3,
              ("ttfd_http_requests_by_class_total", ("class", "4xx")): 2,
              ("ttfd_http_requests_by_class_total", ("class", "5xx")): 1,
              ("ttfd_http_requests_by_class_total", ("class", "3xx")): 0,
              ("ttfd_http_requests_by_class_total", ("class", "none")): 0,
              ("ttfd_http_request_duration_seconds_count", None): 6,
              ("ttfd_http_request_duration_seconds_bucket", ("le", "+Inf")): 6,
              ("ttfd_request_body_bytes_total", None): 1234,
              ("ttfd_response_bytes_total", None): out,
              ("ttfd_requests_refused_total", ("reason", "auth")): 1,
              ("ttfd_requests_refused_total", ("reason", "not_found")): 1,
              ("ttfd_requests_refused_total", ("reason", "cidr")): 0,
              ("ttfd_requests_refused_total", ("reason", "rate_limit")): 0,
              ("ttfd_agent_connects_total", None): 0,
              ("ttfd_accept_backoffs_total", None): 0}
    for (name, label), want in expect.items():
        labels = dict([label]) if label else {}
        got = delta(before, after, name, **labels)
        assert got == want, "%s%s moved by %r, expected %r" % (name, labels, got, want)
    assert delta(before, after, "ttfd_http_request_duration_seconds_sum") > 0
    # every request of this test took less than 5 s
    assert delta(before, after, "ttfd_http_request_duration_seconds_bucket", le="5") == 6

    # gauges follow live state: one exchange in flight
    box = {}
    th = threading.Thread(target=lambda: box.update(
        r=tk.http(d.port, "GET", "/sleep?s=1", tk.sub_host(d, openo.tunnel_id))), daemon=True)
    th.start()
    assert srv.state.sleep_entered.wait(10 * tk.SLOW)
    mid = scrape(d)
    assert val(mid, "ttfd_streams_open") == 1
    assert val(mid, "ttfd_public_connections") >= 1
    th.join(20 * tk.SLOW)
    assert box["r"].status == 200
    tk.wait_for(lambda: val(scrape(d), "ttfd_streams_open") == 0, 10, "streams_open back to 0")

    # an agent restart with its state: a disconnect, then a reconnect of the same name
    tid = openo.tunnel_id
    assert openo.stop() == 0
    tk.wait_for(lambda: val(scrape(d), "ttfd_agent_disconnects_total") == 1, 10, "the disconnect")
    assert val(scrape(d), "ttfd_tunnels") == 1
    again = stack.ttf(d.endpoint(), srv.port, env=env)
    assert again.tunnel_id == tid
    end = scrape(d)
    assert delta(after, end, "ttfd_agent_connects_total") == 1
    assert delta(after, end, "ttfd_agent_reconnects_total") == 1
    assert val(end, "ttfd_tunnels") == 2


def test_accept_backoffs_counted(stack):
    """ttfd_accept_backoffs_total counts each pause of accepting at descriptor exhaustion: exactly
    the failures ttfd logged ("accept failed N times", summed over the episode)."""
    srv = stack.local()
    d = stack.ttfd("--admin", "127.0.0.1:0")
    a = stack.ttf(d.endpoint(), srv.port)
    host = tk.sub_host(d, a.tunnel_id)
    assert val(scrape(d), "ttfd_accept_backoffs_total") == 0
    soft, hard = resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE)
    limit = len(os.listdir("/proc/%d/fd" % d.proc.pid)) + 4
    resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE, (limit, hard))
    flood = []
    try:
        for _ in range(40):
            flood.append(socket.create_connection(("127.0.0.1", d.port)))
        d.proc.wait_line(r"accept failed", 10, stream="err")
    finally:
        for c in flood:
            c.close()
        resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE, (soft, hard))
    r = tk.http(d.port, "GET", "/after", host, timeout=20)  # accepting again ends the episode
    assert r.status == 200, r.raw_head

    def logged():
        with d.proc.cond:
            lines = list(d.proc.err_lines)
        return sum(int(m.group(1)) for m in
                   (re.search(r"accept failed (\d+) times?", ln) for ln in lines) if m)

    def matches():
        n = val(scrape(d), "ttfd_accept_backoffs_total")
        return n if n >= 1 and n == logged() else None
    tk.wait_for(matches, 10, "ttfd_accept_backoffs_total to equal the failures logged")


def test_healthz_and_admin_paths(stack):
    d = stack.ttfd("--admin", "127.0.0.1:0")
    srv = stack.local()
    stack.ttf(d.endpoint(), srv.port)
    status, headers, body = get(d.admin_port, "/healthz")
    assert status == 200 and headers["Content-Type"] == "application/json", headers
    doc = json.loads(body)
    assert doc["status"] == "ok" and doc["tunnels"] == 1 and doc["agents"] == 1, doc
    assert doc["uptime_s"] > 0 and doc["version"] == VERSION, doc
    status, _, body = get(d.admin_port, "/healthz", method="HEAD")
    assert status == 200 and body == b""
    status, _, _ = get(d.admin_port, "/nope")
    assert status == 404
    status, headers, _ = get(d.admin_port, "/metrics", method="POST")
    assert status == 405 and headers.get("Allow") == "GET, HEAD", headers
    # the public listener does not serve them
    r = tk.http(d.port, "GET", "/metrics", "localhost:%d" % d.port)
    assert r.status == 404


def test_admin_off_by_default(stack):
    d = stack.ttfd()
    assert d.admin_port is None
    assert "Admin" not in d.proc.stdout(), d.proc.stdout()
    assert "admin listener" not in d.proc.stderr()


def test_admin_address_in_use_fails(stack):
    d = stack.ttfd("--admin", "127.0.0.1:0")
    p = tk.Proc("ttfd", [tk.TTFD_BIN, "--listen", "127.0.0.1:0", "--state", ":memory:",
                         "--admin", "127.0.0.1:%d" % d.admin_port])
    try:
        assert p.wait_exit(10) == 1, p.describe()
        assert "cannot listen on --admin" in p.stderr(), p.describe()
    finally:
        p.stop()


def test_json_log(stack):
    srv = stack.local()
    d = stack.ttfd("--log-format", "json")
    a = stack.ttf(d.endpoint(), srv.port, "--basic-auth", "alice:" + PASSWORD)
    host = tk.sub_host(d, a.tunnel_id)
    assert tk.http(d.port, "GET", "/private?q=1", host, AUTH).status == 200
    assert tk.http(d.port, "GET", "/private", host).status == 401
    assert tk.http(d.port, "POST", "/x", tk.sub_host(d, "zzzzzzzzzzzz"), body=b"abc").status == 404
    d.proc.wait_line(r'"msg":"request".*"status":404', 10, stream="err")
    assert d.stop() == 0
    lines = d.proc.stderr().splitlines()
    assert lines
    reqs = []
    for line in lines:
        o = json.loads(line)  # every line is one JSON object
        assert isinstance(o, dict) and {"ts", "level", "msg"} <= set(o), line
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", o["ts"]), line
        if o["msg"] == "request":
            reqs.append(o)
    public = [o for o in reqs if o["path"] != "/_tunnel"]
    assert [(o["method"], o["path"], o["status"]) for o in public] == [
        ("GET", "/private?q=1", 200), ("GET", "/private", 401), ("POST", "/x", 404)], public
    ok, refused, missing = public
    assert ok["tunnel_id"] == a.tunnel_id and refused["tunnel_id"] == a.tunnel_id
    assert missing["tunnel_id"] == "zzzzzzzzzzzz"
    assert "refused" not in ok and refused["refused"] == "auth"
    assert missing["refused"] == "not_found" and missing["bytes_in"] == 0
    for o in public:
        assert o["client"] == "127.0.0.1" and o["bytes_out"] > 0, o
        assert isinstance(o["duration_ms"], (int, float)) and o["duration_ms"] >= 0, o
    assert PASSWORD not in d.proc.stderr()
